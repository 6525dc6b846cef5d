"""The Data agent's skill: check, clean and split a person's data, and describe it in a data card.

    report = prepare_data(spec, "train.csv", None, "runs/abc")
    # runs/abc/data/train.csv, runs/abc/data/test.csv, runs/abc/data_card.md

The person's files are only read. Every change made to the data is recorded in
`DataReport.notes` and in the card, with its count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.data.data_split import label_counts_of, require_two_classes, split_rows
from trainer_agent.skills.data.image_data import prepare_images
from trainer_agent.skills.data.mixed_numbers import mixed_numbers
from trainer_agent.skills.data.profile import blank_cells
from trainer_agent.skills.errors import NeedsInput, UserError
from trainer_agent.skills.markdown_safe import md_text
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType

_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass
class _Columns:
    label: str
    text: str | None
    features: list[str]  # includes the text column for text tasks, first

    @property
    def used(self) -> list[str]:
        return [*self.features, self.label]


def prepare_data(
    spec: TaskSpec,
    train_path: str | Path,
    test_path: str | Path | None,
    out_dir: str | Path,
    seed: int = 0,
    test_size: float = 0.2,
    unlabelled_path: str | Path | None = None,
) -> DataReport:
    """Validate, clean and split the data for `spec`; write the result under `out_dir`.

    Writes `out_dir/data/train.csv`, `out_dir/data/test.csv` (only the label and feature columns)
    and `out_dir/data_card.md`. Without `test_path`, `test_size` of the cleaned training rows are
    held out (stratified by class where every class has two rows or more).

    Text data: rows without a label whose text is usable, and the rows of `unlabelled_path` (a pool given on
    its own), are written, inputs only, to `out_dir/data/unlabelled.csv`: the teacher's pool for
    distillation (`skills.model.distill`); rows whose input is in the training or test rows are left out.

    `DataReport.dropped_rows` counts rows of the person's files that are in neither output file
    (no label, empty text, duplicates in the used columns, rows that leak into the test set);
    `duplicate_rows` counts the duplicates among them; `missing_values` counts missing or
    blank cells per column of the training file as given.

    Raises:
        NeedsInput: the spec names no label column (or no text column for a text task).
        UserError: a file cannot be read, a column is missing, the labels cannot be used, or no
            rows are left after cleaning.
    """
    if not 0 < test_size < 1:
        raise UserError(f"test_size must be between 0 and 1 (got {test_size})")
    if spec.task_type == TaskType.IMAGE_CLASSIFICATION:  # images are decoded and copied, not cleaned as rows
        return prepare_images(spec, train_path, test_path, out_dir, seed=seed, test_size=test_size)
    train_name = str(train_path)
    test_name = str(test_path) if test_path is not None else None
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    out_train, out_test = (data_dir / "train.csv").resolve(), (data_dir / "test.csv").resolve()
    for given in (train_path, test_path):
        if given is not None and Path(given).resolve() in (out_train, out_test):
            raise UserError(f"the output directory '{out_dir}' would overwrite the input file '{given}'")

    notes: list[str] = []
    raw_train = load_table(train_path)
    cols = _resolve_columns(spec, raw_train, train_name, notes)
    _require_columns(raw_train, cols, train_name)
    raw_test = None
    if test_path is not None:
        raw_test = load_table(test_path)
        absent = [c for c in cols.used if c not in raw_test.columns]
        if absent:
            raise UserError(
                f"the test file '{test_name}' lacks {'column' if len(absent) == 1 else 'columns'} "
                f"{_quoted(absent)} that '{train_name}' has; its columns are: {', '.join(raw_test.columns)}"
            )
    missing_values = _missing_counts(raw_train)
    classification = spec.task_type != TaskType.TABULAR_REGRESSION
    findings: list[str] = []
    if not cols.text:
        raw_train, raw_test = _read_mixed_numbers(raw_train, raw_test, cols, train_name, test_name, findings)
        notes.extend(findings)

    train = _clean(raw_train, cols, classification, train_name, notes)
    duplicated = train.duplicated(subset=cols.used, keep="first")
    duplicate_rows = int(duplicated.sum())
    if duplicate_rows:
        others = [str(c) for c in raw_train.columns if c not in cols.used]
        notes.append(
            f"'{train_name}': dropped {_plural(duplicate_rows, 'duplicate row')} (the same "
            f"{' and '.join(map(repr, cols.used))} as an earlier row once cleaned"
            + (
                f"; {', '.join(map(repr, others))} not compared: the model does not use them"
                if others
                else ""
            )
            + ")."
        )
        train = train[~duplicated]
    if classification:
        _note_conflicting_labels(train, cols, train_name, notes)

    if raw_test is not None:
        test = _clean(raw_test, cols, classification, str(test_name), notes)
        test_from: Literal["user", "split"] = "user"
        split_note = f"Test set: the user's file '{test_name}' ({len(test)} rows after cleaning)."
    else:
        if classification:
            require_two_classes(train, cols.label, train_name)
        train, test, split_note = split_rows(train, cols.label, classification, train_name, seed, test_size)
        test_from = "split"

    leaked = _leaked_rows(train, test, cols)
    if leaked.any():
        what = "text also appears" if cols.text else "feature values also appear"
        notes.append(
            f"'{train_name}': dropped {_plural(int(leaked.sum()), 'row')} whose {what} "
            "in the test set (train/test leakage)."
        )
        train = train[~leaked]
        if train.empty:
            raise UserError(f"every usable row of '{train_name}' also appears in the test set")
    if classification:
        require_two_classes(train, cols.label, train_name)
        _note_class_coverage(train, test, cols.label, notes)
    if not cols.text:
        _note_feature_oddities(train, cols, train_name, notes)
    notes.append(split_note)

    data_dir.mkdir(parents=True, exist_ok=True)
    train.to_csv(out_train, index=False)
    test.to_csv(out_test, index=False)
    pool = _unlabelled_pool(raw_train, unlabelled_path, cols, train, test, train_name, notes)
    pool_path = None
    if len(pool):
        pool_path = (data_dir / "unlabelled.csv").resolve()
        pool.to_csv(pool_path, index=False)
    n_given = len(raw_train) + (len(raw_test) if raw_test is not None else 0)
    report = DataReport(
        train_path=str(out_train),
        test_path=str(out_test),
        test_from=test_from,
        n_train=len(train),
        n_test=len(test),
        columns=cols.used,
        label_column=cols.label,
        text_column=cols.text,
        feature_columns=cols.features,
        label_counts=label_counts_of(train, cols.label) if classification else {},
        dropped_rows=n_given - len(train) - len(test),
        unlabelled_path=str(pool_path) if pool_path else None,
        unlabelled_rows=len(pool),
        duplicate_rows=duplicate_rows,
        missing_values=missing_values,
        notes=notes,
        findings=findings,
    )
    card = _render_data_card(
        report, spec, raw_train, raw_test, train, test, train_name, test_name, seed, test_size
    )
    (out_dir / report.data_card).write_text(card, encoding="utf-8")
    return report


# --- columns -------------------------------------------------------------------------------


def _resolve_columns(spec: TaskSpec, df: pd.DataFrame, name: str, notes: list[str]) -> _Columns:
    if not spec.label_column:
        raise NeedsInput(f"which column of '{name}' holds the labels? columns are: {', '.join(df.columns)}")
    label = spec.label_column
    features = [c for c in spec.feature_columns if c != label]
    if len(features) < len(spec.feature_columns):
        notes.append(f"The label column '{label}' was listed as a feature; it is used only as the label.")
    text = None
    if spec.task_type == TaskType.TEXT_CLASSIFICATION:
        text = spec.text_column or (features[0] if len(features) == 1 else None)
        if not text:
            raise NeedsInput(
                f"which column of '{name}' holds the text to classify? columns are: {', '.join(df.columns)}"
            )
        if text == label:
            raise UserError(f"'{label}' cannot be both the text column and the label column")
        features = [text, *[c for c in features if c != text]]
    elif not features:
        features = [c for c in df.columns if c != label]
        notes.append(f"No feature columns were named; using every other column: {', '.join(features)}.")
    return _Columns(label=label, text=text, features=list(dict.fromkeys(features)))


def _require_columns(df: pd.DataFrame, cols: _Columns, name: str) -> None:
    available = ", ".join(df.columns)
    if cols.label not in df.columns:
        raise UserError(f"label column '{cols.label}' is not in '{name}'; columns are: {available}")
    if cols.text and cols.text not in df.columns:
        raise UserError(f"text column '{cols.text}' is not in '{name}'; columns are: {available}")
    absent = [c for c in cols.features if c not in df.columns]
    if absent:
        which = (
            f"feature column {_quoted(absent)} is"
            if len(absent) == 1
            else f"feature columns {_quoted(absent)} are"
        )
        raise UserError(f"{which} not in '{name}'; columns are: {available}")


# --- cleaning ------------------------------------------------------------------------------


def _missing_counts(df: pd.DataFrame) -> dict[str, int]:
    return {str(c): int(blank_cells(df[c]).sum()) for c in df.columns}


def normalize_text(series: pd.Series) -> pd.Series:
    """Replace HTML line breaks with spaces, collapse whitespace runs and strip; keeps missing."""
    text = series.astype("string")
    return text.str.replace(_HTML_BREAK, " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()


def _clean(
    raw: pd.DataFrame, cols: _Columns, classification: bool, name: str, notes: list[str]
) -> pd.DataFrame:
    """Keep the used columns; drop unlabelled rows and empty texts; give labels their type."""
    df = raw[cols.used].copy()
    dropped: list[str] = []
    no_label = blank_cells(df[cols.label])
    if no_label.any():
        dropped.append(f"dropped {_plural(int(no_label.sum()), 'row')} with no label in '{cols.label}'")
        df = df[~no_label]
    if cols.text:
        before = df[cols.text].astype("string")
        after = normalize_text(before)
        changed = int((before.ne(after) & after.notna()).sum())
        if changed:
            notes.append(
                f"'{name}': normalized whitespace and HTML line breaks in {_plural(changed, 'text')} "
                f"of '{cols.text}'."
            )
        empty = (after.isna() | after.eq("")).to_numpy()
        if empty.any():
            dropped.append(f"dropped {_plural(int(empty.sum()), 'row')} with empty text in '{cols.text}'")
        df = df[~empty]
        df[cols.text] = after[~empty].astype(str)
    notes.extend(f"'{name}': {change}." for change in dropped)
    if df.empty:
        raise UserError(f"'{name}' has no usable rows after cleaning: {'; '.join(dropped)}")
    if classification:
        df[cols.label] = _label_strings(df[cols.label])
    else:
        df[cols.label] = _numeric_labels(df[cols.label], cols.label, name)
    return df


def _read_mixed_numbers(
    raw_train: pd.DataFrame,
    raw_test: pd.DataFrame | None,
    cols: _Columns,
    train_name: str,
    test_name: str | None,
    findings: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read feature columns of numbers with a few text cells as numbers, the text as missing.

    The training file decides (`skills.data.mixed_numbers`); a column read as numbers there is
    read as numbers in the test file too. One sentence per column goes to `findings`.
    """

    for column in cols.features:
        found = mixed_numbers(raw_train[column], column)
        if found is None:
            continue
        findings.append(found.sentence(train_name))
        if not found.read_as_numbers:
            continue
        raw_train = raw_train.assign(**{column: found.values})
        if raw_test is not None and not pd.api.types.is_numeric_dtype(raw_test[column]):
            in_test = mixed_numbers(raw_test[column], column, numeric_elsewhere=True)
            if in_test is not None:
                findings.append(in_test.sentence(str(test_name)))
                raw_test = raw_test.assign(**{column: in_test.values})
            else:
                values = pd.to_numeric(raw_test[column].astype("string").str.strip(), errors="coerce")
                raw_test = raw_test.assign(**{column: values.astype("float64")})
    return raw_train, raw_test


def _label_strings(labels: pd.Series) -> pd.Series:
    """Class labels as stripped strings; 1.0 becomes '1' when every label is a whole number."""

    if pd.api.types.is_float_dtype(labels) and bool((labels % 1 == 0).all()):
        labels = labels.astype("int64")
    return labels.astype(str).str.strip()


def _numeric_labels(labels: pd.Series, column: str, name: str) -> pd.Series:
    import numpy as np

    source = labels.astype("string").str.strip() if not pd.api.types.is_numeric_dtype(labels) else labels
    values = pd.to_numeric(source, errors="coerce").astype("float64")
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        row = bad.idxmax()
        raise UserError(
            f"label column '{column}' in '{name}' is not numeric (e.g. value '{labels[row]}' in row "
            f"{row + 1}); a regression needs numbers"
        )
    return values


def _note_conflicting_labels(df: pd.DataFrame, cols: _Columns, name: str, notes: list[str]) -> None:
    per_input = df.groupby(cols.features, dropna=False)[cols.label].nunique()
    conflicts = int((per_input > 1).sum())
    if conflicts:
        notes.append(
            f"'{name}': {_plural(conflicts, 'input')} appear with more than one label; their rows are kept."
        )


def _unlabelled_pool(
    raw_train: pd.DataFrame,
    unlabelled_path: str | Path | None,
    cols: _Columns,
    train: pd.DataFrame,
    test: pd.DataFrame,
    train_name: str,
    notes: list[str],
) -> pd.DataFrame:
    """The inputs of the rows without a label (of the training file and of `unlabelled_path`),
    cleaned, without duplicates and without rows whose input is in `train` or `test`."""

    inputs = [c for c in cols.used if c != cols.label]
    if not cols.text:  # only the text trainer distils through a pool (skills.model.distill)
        if unlabelled_path is not None:
            notes.append(
                f"'{unlabelled_path}' is not used: a teacher labels an unlabelled pool for text only."
            )
        return pd.DataFrame(columns=inputs)
    parts = [raw_train.loc[blank_cells(raw_train[cols.label]), inputs]]
    if unlabelled_path is not None:
        given = load_table(unlabelled_path)
        absent = [c for c in inputs if c not in given.columns]
        if absent:
            which = "column" if len(absent) == 1 else "columns"
            raise UserError(
                f"the unlabelled file '{unlabelled_path}' lacks {which} {_quoted(absent)}, which the model "
                f"reads; its columns are: {', '.join(map(str, given.columns))}"
            )
        if cols.label in given.columns and not blank_cells(given[cols.label]).all():
            notes.append(f"'{unlabelled_path}': its '{cols.label}' column is ignored (a pool is unlabelled).")
        parts.append(given[inputs])
    pool = pd.concat(parts, ignore_index=True)
    if pool.empty:
        return pool
    text = normalize_text(pool[cols.text])
    pool = pool[~(text.isna() | text.eq("")).to_numpy()].copy()
    pool[cols.text] = text[pool.index].astype(str)
    pool = pool.drop_duplicates()
    known = pd.concat([train, test], ignore_index=True)
    pool = pool[~_leaked_rows(pool, known, cols).to_numpy()].reset_index(drop=True)
    if len(pool):
        notes.append(
            f"{_plural(len(pool), 'row')} without a label (of '{train_name}'"
            + (f" and '{unlabelled_path}'" if unlabelled_path is not None else "")
            + ") kept as an unlabelled pool for a teacher: data/unlabelled.csv."
        )
    return pool


def _leaked_rows(train: pd.DataFrame, test: pd.DataFrame, cols: _Columns) -> pd.Series:
    """True for training rows whose input (the text, or every feature value) is also in the test set."""
    return same_input(train, test, [cols.text] if cols.text else cols.features)


def same_input(rows: pd.DataFrame, other: pd.DataFrame, key_cols: list[str]) -> pd.Series:
    """True for the rows whose values in `key_cols` are those of a row of `other`."""

    harmonized_rows: dict[str, pd.Series] = {}
    harmonized_other: dict[str, pd.Series] = {}
    for c in key_cols:
        numeric = pd.api.types.is_numeric_dtype(rows[c]) and pd.api.types.is_numeric_dtype(other[c])
        for src, dst in ((rows, harmonized_rows), (other, harmonized_other)):
            # Compare 1 and 1.0 as equal, and NaN with NaN; the same for every column of both sets.
            column = src[c].astype("float64") if numeric else src[c].astype("string")
            dst[c] = column.map(repr) if numeric else column.fillna("\x00missing")
    row_keys = pd.util.hash_pandas_object(pd.DataFrame(harmonized_rows, index=rows.index), index=False)
    other_keys = pd.util.hash_pandas_object(pd.DataFrame(harmonized_other, index=other.index), index=False)
    return row_keys.isin(set(other_keys.tolist()))


def _note_class_coverage(train: pd.DataFrame, test: pd.DataFrame, label: str, notes: list[str]) -> None:
    train_classes, test_classes = set(train[label]), set(test[label])
    counts = train[label].value_counts()
    rare = sorted(counts[counts < 2].index)
    if rare:
        notes.append(f"Classes with fewer than 2 training rows: {_quoted(rare)}.")
    if test_classes - train_classes:
        unseen = sorted(test_classes - train_classes)
        notes.append(f"Test classes {_quoted(unseen)} never occur in training; a model cannot predict them.")
    if train_classes - test_classes:
        absent = sorted(train_classes - test_classes)
        notes.append(
            f"Training classes {_quoted(absent)} do not occur in the test set; they are not evaluated."
        )


def _note_feature_oddities(df: pd.DataFrame, cols: _Columns, name: str, notes: list[str]) -> None:

    for c in cols.features:
        distinct = df[c].nunique(dropna=True)
        if distinct <= 1:
            notes.append(f"'{name}': feature '{c}' has a single value; it cannot help a model.")
        elif not pd.api.types.is_numeric_dtype(df[c]) and distinct == len(df) and len(df) >= 20:
            notes.append(f"'{name}': feature '{c}' is different in every row; it looks like an identifier.")


# --- the data card -------------------------------------------------------------------------


def _render_data_card(
    report: DataReport,
    spec: TaskSpec,
    raw_train: pd.DataFrame,
    raw_test: pd.DataFrame | None,
    train: pd.DataFrame,
    test: pd.DataFrame,
    train_name: str,
    test_name: str | None,
    seed: int,
    test_size: float,
) -> str:
    """The Markdown data card: sources, rows, columns, labels, text or numeric summary, changes."""

    label = report.label_column
    lines = ["# Data card", ""]
    lines += [f"- Task: {spec.task_type.value}", f"- Label column: `{md_text(label)}`"]
    if report.text_column:
        lines.append(f"- Text column: `{md_text(report.text_column)}`")
    lines += [f"- Feature columns: {', '.join(f'`{md_text(c)}`' for c in report.feature_columns)}", ""]

    lines += ["## Sources", ""]
    lines.append(f"- Training data: `{Path(train_name).resolve()}` ({len(raw_train)} rows)")
    if test_name is not None and raw_test is not None:
        lines.append(f"- Test data: `{Path(test_name).resolve()}` ({len(raw_test)} rows)")
    else:
        lines.append(f"- Test data: held out from the training data ({test_size:.0%}, seed {seed})")
    lines += [f"- Written: `{report.train_path}`, `{report.test_path}`", ""]

    lines += ["## Rows", ""]
    rows = [["train", len(raw_train), report.n_train]]
    if raw_test is not None:
        rows.append(["test", len(raw_test), report.n_test])
    else:
        rows.append(["test (held out)", "-", report.n_test])
    lines += _table(["set", "rows given", "rows used"], rows)
    lines += [
        "",
        f"Rows dropped: {report.dropped_rows} (of which duplicates: {report.duplicate_rows}).",
        "",
    ]

    lines += ["## Columns (training file as given)", ""]
    roles = {c: "feature" for c in report.feature_columns}
    roles[label] = "label"
    if report.text_column:
        roles[report.text_column] = "text"
    lines += _table(
        ["column", "dtype", "missing", "role"],
        [
            [f"`{c}`", str(raw_train[c].dtype), report.missing_values.get(str(c), 0), roles.get(c, "unused")]
            for c in raw_train.columns
        ],
    )
    lines.append("")

    lines += ["## Labels", ""]
    if spec.task_type == TaskType.TABULAR_REGRESSION:
        lines += _numeric_table({"train": train[label], "test": test[label]}, "set")
    else:
        train_counts, test_counts = train[label].value_counts(), test[label].value_counts()
        classes = sorted(set(train_counts.index) | set(test_counts.index))
        lines += _table(
            ["class", "train", "train %", "test", "test %"],
            [
                [
                    f"`{c}`",
                    int(train_counts.get(c, 0)),
                    f"{100 * train_counts.get(c, 0) / max(len(train), 1):.1f}",
                    int(test_counts.get(c, 0)),
                    f"{100 * test_counts.get(c, 0) / max(len(test), 1):.1f}",
                ]
                for c in classes
            ],
        )
        ratio = train_counts.max() / train_counts.min()
        lines += ["", f"Imbalance ratio (largest / smallest training class): {ratio:.2f}"]
    lines.append("")

    if report.text_column:
        text = report.text_column
        lines += ["## Text length (characters, after cleaning)", ""]
        lengths = {"train": train[text].str.len(), "test": test[text].str.len()}
        lines += _numeric_table(lengths, "set", stats=("min", "median", "mean", "max"))
        lines.append("")
    else:
        numeric = [c for c in report.feature_columns if pd.api.types.is_numeric_dtype(train[c])]
        other = [c for c in report.feature_columns if c not in numeric]
        if numeric:
            lines += ["## Numeric features (training set)", ""]
            lines += _numeric_table({f"`{c}`": train[c] for c in numeric}, "feature")
            lines.append("")
        if other:
            lines += ["## Other features (training set)", ""]
            lines += _table(
                ["feature", "distinct values", "most common"],
                [[f"`{c}`", train[c].nunique(), _most_common(train[c])] for c in other],
            )
            lines.append("")

    lines += ["## Cleaning and split", ""]
    lines += [f"- {md_text(note)}" for note in report.notes] or ["- No changes were needed."]
    lines.append("")
    return "\n".join(lines)


def _numeric_table(
    columns: dict[str, pd.Series],
    first: str,
    stats: tuple[str, ...] = ("min", "median", "mean", "max", "std"),
) -> list[str]:
    rows = []
    for name, series in columns.items():
        values = series.dropna().astype("float64")
        row: list[object] = [name]
        row += [f"{getattr(values, s)():.4g}" if len(values) else "-" for s in stats]
        row.append(int(series.isna().sum()))
        rows.append(row)
    return _table([first, *stats, "missing"], rows)


def _most_common(series: pd.Series) -> str:
    counts = series.value_counts()
    return f"`{counts.index[0]}` ({counts.iloc[0]})" if len(counts) else "-"


def _table(headers: list[str], rows: list[list[object]]) -> list[str]:
    def cell(value: object) -> str:  # labels and column names are data: inert as HTML

        return md_text(value)

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)
