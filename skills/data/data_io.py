"""Read a person's data file into a pandas DataFrame, or say in one sentence why it cannot be read.

Supported: .csv, .tsv, .txt/.tab (delimiter sniffed), .jsonl/.ndjson, .json (a list of records),
.parquet, Excel (.xlsx/.xlsm), SQLite files (.db/.sqlite/.sqlite3, 'file.db#table'), database
URLs ('postgresql://.../db#table'), and folders: a saved `datasets` dataset, or one sub-folder of
text or image files per class (see `skills.data.loaders`). Text files are read as UTF-8 (a byte-order
mark is accepted) unless an `encoding` is given; another encoding is not silently guessed, because
a mis-decoding corrupts the data without a trace: the error names the offending byte and the
encoding the file seems to be in.

    from trainer_agent.skills.data.data_io import load_table
    df = load_table("configs/demo/fine_foods/train.csv")
    df = load_table("legacy.csv", encoding="cp1252")
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from trainer_agent.skills.data.loaders import (
    EXCEL,
    SQLITE,
    is_url,
    load_excel,
    load_folder,
    load_sql,
    split_table,
)
from trainer_agent.skills.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": None, ".tab": None}
JSON_LINES = (".jsonl", ".ndjson")
SUPPORTED = (*DELIMITED, *JSON_LINES, ".json", ".parquet", *EXCEL, *SQLITE)

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def load_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Load a table with string columns as pandas string dtype and stripped column names.

    Args:
        path: a data file, a folder (see the module docstring), 'file.db#table' or a database URL.
        encoding: the text encoding of a delimited or JSON file; None reads UTF-8 only.

    Raises:
        UserError: the file is missing, has an unsupported extension, is not in the encoding,
            is malformed, or has no data rows. The message names the file.
    """
    source = str(path)
    where, table = (source, None) if Path(source).exists() else split_table(source)
    if is_url(where):
        return _finish(load_sql(source), where)
    path = Path(where)
    name = str(path)
    if not path.exists():
        raise UserError(f"data file '{name}' does not exist")
    if path.is_dir():
        return _finish(load_folder(path), name)
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
    elif suffix in SQLITE:
        df = load_sql(path, table=table)
    elif suffix in EXCEL:
        df = load_excel(path, sheet=table)
    else:
        text = _read_text(path, name, encoding)
        if not text.strip():
            raise UserError(f"'{name}' has no data rows")
        if suffix in DELIMITED:
            df = _read_delimited(text, DELIMITED[suffix], name)
        elif suffix in JSON_LINES:
            df = _read_json_lines(text, name)
        else:
            df = _read_json(text, name)
    return _finish(df, name)


def _finish(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df.columns = [str(c).strip() for c in df.columns]
    duplicated = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if duplicated:
        raise UserError(f"'{name}' has more than one column named {', '.join(map(repr, duplicated))}")
    if len(df.columns) == 0 or len(df) == 0:
        raise UserError(f"'{name}' has no data rows")
    return _as_string_columns(df)


def _read_text(path: Path, name: str, encoding: str | None) -> str:
    if encoding is None:
        return _read_utf8(path, name)

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UserError(f"'{encoding}' is not a known text encoding (reading '{name}')") from None
    data = path.read_bytes()
    try:
        return data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as err:
        raise UserError(
            f"'{name}' is not {encoding} text: byte 0x{data[err.start]:02x} at offset {err.start}"
        ) from None


def guess_encoding(data: bytes) -> str | None:
    """The legacy encoding `data` decodes cleanly in (cp1252 covers Latin-1 text), or None."""
    for candidate in ("cp1252", "latin-1"):
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
        if controls == 0:
            return candidate
    return None


def _read_utf8(path: Path, name: str) -> str:
    data = path.read_bytes()
    if data.startswith(_UTF16_BOMS):
        raise UserError(f"'{name}' is UTF-16 text, not UTF-8; re-save it as UTF-8")
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = skip + err.start  # offset in the file as it is on disk
        guess = guess_encoding(data[skip:])
        hint = f" (it reads as {guess})" if guess else ""
        raise UserError(
            f"'{name}' is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset}; "
            f"re-save it as UTF-8{hint}"
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
            raise UserError(f"'{name}' line {number} is not valid JSON: {_json_reason(err)}") from None
        if not isinstance(record, dict):
            raise UserError(
                f"'{name}' line {number} is a JSON {type(record).__name__}, not an object "
                'like {"text": ..., "label": ...}'
            )
        records.append(record)
    return _flat(pd.DataFrame.from_records(records))


def _read_json(text: str, name: str) -> pd.DataFrame:
    import pandas as pd

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # JSON Lines saved as .json
            return _read_json_lines(text, name)
        raise UserError(f"'{name}' line {err.lineno} is not valid JSON: {_json_reason(err)}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(
            f'\'{name}\' must hold a JSON list of records (objects), e.g. [{{"text": "...", "label": "..."}}]'
        )
    return _flat(pd.DataFrame.from_records(data))


def _json_reason(err: json.JSONDecodeError) -> str:
    """The decoder's reason as a whole clause with the column: its `msg` alone can end mid-phrase
    ("Unterminated string starting at"), since the position normally follows it."""
    reason = err.msg.removesuffix(" at").rstrip()
    return f"{reason[:1].lower()}{reason[1:]} at column {err.colno}"


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Nested JSON values (objects, lists) become their JSON text: a cell holds one value."""
    for column in df.columns:
        series = df[column]
        if series.dtype == object and series.map(lambda v: isinstance(v, (dict, list))).any():
            df[column] = series.map(
                lambda v: (
                    json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else v
                )
            )
    return df


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
