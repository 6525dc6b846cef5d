"""Columns of numbers with a few text cells ('n/a', 'unknown', '12 kg'): found and said, never silent.

    found = mixed_numbers(df["age"], "age")
    if found and found.read_as_numbers:
        df["age"] = found.values          # the text cells become missing values
    print(found.sentence("train.csv"))    # one sentence for the data card and the findings

A table reader types a column by its cells, so one 'n/a' among 1,000 ages makes the whole
column text, and a tabular model would treat every age as an unrelated category. A person who
wrote those cells meant a number column with a few unknown values, so:

- at most TEXT_SHARE (5%) of the filled cells are text: the column is read as numbers and the
  text cells as missing values (the model's imputation fills them), and the sentence names
  their count, a few of them and the rows they are on;
- more text than that, but at least half numbers: the column stays categorical (the text may
  mean something), and the sentence says it mixes numbers and text, with the same detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

TEXT_SHARE = 0.05  # at most this share of the filled cells may be text for a numeric column
MIN_NUMBERS = 10  # fewer numbers than this say too little about what the column is
SHOWN = 3  # text values quoted in the sentence
SHOWN_ROWS = 5  # row numbers quoted in the sentence


@dataclass
class MixedNumbers:
    column: str
    numbers: int  # filled cells that are finite numbers
    text_rows: list[int]  # 1-based data rows (header not counted) whose cell is text
    examples: list[str]  # the first few distinct text values
    values: pd.Series  # the column as float64, the text cells missing
    numeric_elsewhere: bool = False  # the training file's column is numbers: read these as numbers

    @property
    def read_as_numbers(self) -> bool:
        share_ok = len(self.text_rows) <= TEXT_SHARE * (self.numbers + len(self.text_rows))
        return self.numeric_elsewhere or share_ok

    def sentence(self, name: str) -> str:
        """One sentence naming the file, the column, the text cells and what was done with them."""
        n = len(self.text_rows)
        cells = "1 cell" if n == 1 else f"{n:,} cells"
        such = ", ".join(repr(v) for v in self.examples)
        rows = ", ".join(str(r) for r in self.text_rows[:SHOWN_ROWS]) + (", ..." if n > SHOWN_ROWS else "")
        where = f"{'row' if n == 1 else 'rows'} {rows}"
        if self.read_as_numbers:
            return (
                f"'{name}': column '{self.column}' is numeric except {cells} such as {such} ({where}); "
                f"{'it was' if n == 1 else 'they were'} read as missing values."
            )
        return (
            f"'{name}': column '{self.column}' mixes {self.numbers:,} numbers with {cells} of text such as "
            f"{such} ({where}); it is kept as a categorical column, so its numbers are not compared "
            "by size (clean the text cells to use it as numbers)."
        )


def mixed_numbers(series: pd.Series, column: str, numeric_elsewhere: bool = False) -> MixedNumbers | None:
    """The text cells of a column that is mostly numbers, or None (numeric already, or not numbers).

    With `numeric_elsewhere` (the same column of the training file is read as numbers) any text
    cell counts, whatever the share: a test file must be read as the training file was.
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    text = series.astype("string").str.strip()
    filled = text.notna() & text.ne("")
    parsed = pd.to_numeric(text.where(filled), errors="coerce").astype("float64")
    is_number = filled & parsed.notna() & np.isfinite(parsed.fillna(0.0))
    is_text = filled & ~is_number
    numbers, texts = int(is_number.sum()), int(is_text.sum())
    if not texts or (not numeric_elsewhere and (numbers < MIN_NUMBERS or numbers < texts)):
        return None
    positions = np.flatnonzero(is_text.to_numpy())
    return MixedNumbers(
        column=column,
        numbers=numbers,
        text_rows=[int(p) + 1 for p in positions],
        examples=list(dict.fromkeys(text[is_text].tolist()))[:SHOWN],
        values=parsed.where(is_number),
        numeric_elsewhere=numeric_elsewhere,
    )
