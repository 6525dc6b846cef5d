"""Read a person's data file into a pandas DataFrame, or say in one sentence why it cannot be read.

Supported: .csv, .tsv, .txt/.tab (delimiter sniffed), .jsonl/.ndjson, .json (a list of records)
and .parquet. Text files must be UTF-8 (a byte-order mark is accepted); other encodings are
rejected rather than guessed, because a silent mis-decoding corrupts the data without a trace.

    from skills.data_io import load_table
    df = load_table("configs/demo/fine_foods/train.csv")
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from skills.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": None, ".tab": None}
JSON_LINES = (".jsonl", ".ndjson")
SUPPORTED = (*DELIMITED, *JSON_LINES, ".json", ".parquet")

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def load_table(path: str | Path) -> pd.DataFrame:
    """Load a table with string columns as pandas string dtype and stripped column names.

    Raises:
        UserError: the file is missing, is a directory, has an unsupported extension, is not
            UTF-8, is malformed, or has no data rows. The message names the file.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise UserError(f"data file '{name}' does not exist")
    if path.is_dir():
        raise UserError(f"'{name}' is a directory; give the path of a data file inside it")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UserError(
            f"'{name}' has an unsupported extension '{path.suffix or '(none)'}'; "
            f"supported are {', '.join(SUPPORTED)}"
        )
    if path.stat().st_size == 0:
        raise UserError(f"'{name}' is empty: it has no data rows")

    if suffix == ".parquet":
        df = _read_parquet(path, name)
    else:
        text = _read_utf8(path, name)
        if not text.strip():
            raise UserError(f"'{name}' has no data rows")
        if suffix in DELIMITED:
            df = _read_delimited(text, DELIMITED[suffix], name)
        elif suffix in JSON_LINES:
            df = _read_json_lines(text, name)
        else:
            df = _read_json(text, name)

    df.columns = [str(c).strip() for c in df.columns]
    duplicated = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if duplicated:
        raise UserError(f"'{name}' has more than one column named {', '.join(map(repr, duplicated))}")
    if len(df.columns) == 0 or len(df) == 0:
        raise UserError(f"'{name}' has no data rows")
    return _as_string_columns(df)


def _read_utf8(path: Path, name: str) -> str:
    data = path.read_bytes()
    if data.startswith(_UTF16_BOMS):
        raise UserError(f"'{name}' is UTF-16 text, not UTF-8; re-save it as UTF-8")
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = skip + err.start  # offset in the file as it is on disk
        raise UserError(
            f"'{name}' is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset}; re-save it as UTF-8"
        ) from None


def _sniff_delimiter(text: str) -> str:
    sample = text[:1024]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        first_line = sample.splitlines()[0] if sample else ""
        return "\t" if "\t" in first_line else ","


def _read_delimited(text: str, sep: str | None, name: str) -> pd.DataFrame:
    import pandas as pd

    sep = sep or _sniff_delimiter(text)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep)
    except pd.errors.EmptyDataError:
        raise UserError(f"'{name}' has no data rows") from None
    except pd.errors.ParserError as err:
        raise UserError(_describe_csv_error(text, sep, str(err), name)) from None
    # A tab-separated file saved as .csv reads as one column whose name holds the tabs.
    if sep == "," and len(df.columns) == 1 and "\t" in str(df.columns[0]):
        return _read_delimited(text, "\t", name)
    # pandas renames a repeated header 'a' to 'a.1'; keep the names as written so it is caught.
    header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    if len(header) == len(df.columns):
        df.columns = header
    return df


def _describe_csv_error(text: str, sep: str, message: str, name: str) -> str:
    """Turn a pandas ParserError into a sentence with the physical line number of the fault."""
    kind = "CSV" if sep == "," else "tab-separated" if sep == "\t" else f"'{sep}'-separated"
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts: list[tuple[int, list[str]]] = []
    line = 0
    try:
        for row in reader:
            starts.append((line + 1, row))
            line = reader.line_num
    except csv.Error:
        pass
    if "EOF inside string" in message and starts:
        return f"'{name}' is not valid {kind}: a quote opened on line {starts[-1][0]} is never closed"
    if starts:
        width = len(starts[0][1])
        for start, row in starts[1:]:
            if len(row) > width:
                return (
                    f"'{name}' is not valid {kind}: line {start} has {len(row)} fields "
                    f"but the header has {width}"
                )
    found = re.search(r"line (\d+)", message)
    where = f" near line {found.group(1)}" if found else ""
    detail = message.strip().splitlines()[-1] if message.strip() else "parse error"
    return f"'{name}' is not valid {kind}{where}: {detail}"


def _read_json_lines(text: str, name: str) -> pd.DataFrame:
    import pandas as pd

    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"'{name}' line {number} is not valid JSON: {err.msg}") from None
        if not isinstance(record, dict):
            raise UserError(
                f"'{name}' line {number} is a JSON {type(record).__name__}, not an object "
                'like {"text": ..., "label": ...}'
            )
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_json(text: str, name: str) -> pd.DataFrame:
    import pandas as pd

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # JSON Lines saved as .json
            return _read_json_lines(text, name)
        raise UserError(f"'{name}' is not valid JSON: {err.msg} at line {err.lineno}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(
            f'\'{name}\' must hold a JSON list of records (objects), e.g. [{{"text": "...", "label": "..."}}]'
        )
    return pd.DataFrame.from_records(data)


def _read_parquet(path: Path, name: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several unrelated types for a bad file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"'{name}' is not a readable Parquet file: {first}") from None


def _as_string_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Give object columns that hold only strings (and missing values) the pandas string dtype."""
    import pandas as pd

    default_str = pd.Series(["x"]).dtype  # `str` on pandas 3, object on pandas 2
    if pd.api.types.is_object_dtype(default_str):
        return df
    for column in df.columns:
        series = df[column]
        if pd.api.types.is_object_dtype(series) and pd.api.types.infer_dtype(series, skipna=True) in (
            "string",
            "empty",
        ):
            if series.isna().all():
                continue
            df[column] = series.astype(default_str)
    return df
