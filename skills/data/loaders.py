"""Loaders for what people bring besides a single table file: Excel workbooks, a folder of text
files per class, an image folder per class (the ImageFolder layout), a Hugging Face `datasets`
dataset saved with `save_to_disk`, and a table in a SQL database (a SQLite file or a SQLAlchemy
URL). `skills.data.data_io.load_table` dispatches here; each returns a DataFrame with string columns.

    load_folder("reviews/")            # reviews/great/*.txt, reviews/other/*.txt -> text, label, file
    load_folder("photos/")             # photos/cat/*.jpg ... -> image (path), label, width, height
    load_sql("shop.db#reviews")        # a SQLite file and its table
    load_sql("postgresql://u@h/db#reviews")
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from trainer_agent.skills.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

EXCEL = (".xlsx", ".xlsm")
SQLITE = (".db", ".sqlite", ".sqlite3")
TEXT_FILES = (".txt", ".md", ".text")
IMAGE_FILES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+]*):/{1,3}(?P<rest>.*)$", re.IGNORECASE)


def is_url(source: str) -> bool:
    """True for a database URL such as postgresql://..., sqlite:///x.db (Windows drives excluded)."""
    found = _URL.match(source)
    return found is not None and len(found.group("scheme")) > 1


def split_table(source: str) -> tuple[str, str | None]:
    """'shop.db#reviews' -> ('shop.db', 'reviews'); no '#' -> (source, None)."""
    if "#" in source:
        where, table = source.rsplit("#", 1)
        return where, table.strip() or None
    return source, None


# --- Excel ---------------------------------------------------------------------------------


def load_excel(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """The first sheet (or `sheet`) of an .xlsx/.xlsm workbook; the first row is the header."""
    import pandas as pd

    name = str(path)
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise UserError(f"reading '{name}' needs the openpyxl package; install it with pip") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile, KeyError and its own errors for a bad file
        raise UserError(f"'{name}' is not a readable Excel workbook: {_first_line(err)}") from None
    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            raise UserError(f"'{name}' has no sheet '{sheet}'; its sheets are: {', '.join(names)}")
        rows = list(book[sheet or names[0]].iter_rows(values_only=True))
    finally:
        book.close()
    rows = [r for r in rows if any(v is not None and str(v).strip() != "" for v in r)]
    if len(rows) < 2:
        raise UserError(f"'{name}' (sheet '{sheet or names[0]}') has no data rows under its header")
    header = ["" if v is None else str(v).strip() for v in rows[0]]
    width = max(i + 1 for i, h in enumerate(header) if h) if any(header) else 0
    if not width:
        raise UserError(f"'{name}' (sheet '{sheet or names[0]}') has an empty header row")
    unnamed = [i + 1 for i, h in enumerate(header[:width]) if not h]
    if unnamed:
        raise UserError(f"'{name}': column {unnamed[0]} of the header row has no name")
    return pd.DataFrame(
        [list(r[:width]) + [None] * (width - len(r)) for r in rows[1:]], columns=header[:width]
    )


# --- folders -------------------------------------------------------------------------------


def folder_kind(path: Path) -> str:
    """'hf' for a saved `datasets` dataset, 'text' or 'image' for a folder of class folders."""
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        return "hf"
    classes = [d for d in sorted(path.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    if not classes:
        raise UserError(
            f"'{path}' is a folder without class folders; put each class's files in a folder named "
            "for the class (e.g. reviews/great/1.txt)"
        )
    suffixes = [f.suffix.lower() for d in classes for f in d.iterdir() if f.is_file()]
    n_text = sum(s in TEXT_FILES for s in suffixes)
    n_image = sum(s in IMAGE_FILES for s in suffixes)
    if not n_text and not n_image:
        raise UserError(
            f"the class folders of '{path}' hold no text ({', '.join(TEXT_FILES)}) "
            f"or image ({', '.join(IMAGE_FILES)}) files"
        )
    return "image" if n_image > n_text else "text"


def load_folder(path: str | Path) -> pd.DataFrame:
    """A saved `datasets` dataset, or a folder with one sub-folder of text or image files per class."""
    path = Path(path)
    kind = folder_kind(path)
    if kind == "hf":
        return load_hf_dataset(path)
    return load_text_folder(path) if kind == "text" else load_image_folder(path)


def _class_files(path: Path, suffixes: tuple[str, ...]) -> list[tuple[str, Path]]:
    found = []
    for folder in sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")):
        found += [(folder.name, f) for f in sorted(folder.rglob("*")) if f.suffix.lower() in suffixes]
    return found


def load_text_folder(path: str | Path) -> pd.DataFrame:
    """One row per text file: columns text, label (the folder name) and file (relative path)."""
    import pandas as pd

    path = Path(path)
    rows = []
    for label, file in _class_files(path, TEXT_FILES):
        data = file.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise UserError(
                f"'{file}' is not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start}; "
                "re-save it as UTF-8"
            ) from None
        rows.append({"text": text.strip(), "label": label, "file": str(file.relative_to(path))})
    if not rows:
        raise UserError(f"'{path}' has no text files in its class folders")
    return pd.DataFrame(rows).astype({"text": "str", "label": "str", "file": "str"})


def load_image_folder(path: str | Path) -> pd.DataFrame:
    """One row per image: columns image (absolute path), label (the folder name), width, height, mode.

    Only the image headers are read. Files PIL cannot open are left out and listed, with the
    reason, in `df.attrs["unreadable_images"]`; other files in the class folders are counted in
    `df.attrs["ignored_files"]`. None readable is an error.
    """
    import pandas as pd
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    rows, unreadable = [], []
    files = _class_files(path, IMAGE_FILES)
    for label, file in files:
        try:
            with Image.open(file) as img:
                width, height = img.size
                mode = img.mode
        except UnidentifiedImageError:
            unreadable.append((str(file.resolve()), "not a readable image (unknown format)"))
            continue
        except (OSError, SyntaxError, ValueError) as err:
            unreadable.append((str(file.resolve()), f"not a readable image ({_first_line(err)})"))
            continue
        rows.append(
            {"image": str(file.resolve()), "label": label, "width": width, "height": height, "mode": mode}
        )
    if not rows:
        if unreadable:
            raise UserError(
                f"none of the {len(unreadable)} image files in '{path}' could be read "
                f"(e.g. '{unreadable[0][0]}': {unreadable[0][1]})"
            )
        raise UserError(f"'{path}' has no image files in its class folders")
    df = pd.DataFrame(rows)
    df.attrs["unreadable_images"] = unreadable
    others = [f for d in path.iterdir() if d.is_dir() and not d.name.startswith(".") for f in d.rglob("*")]
    df.attrs["ignored_files"] = sum(1 for f in others if f.is_file() and f.suffix.lower() not in IMAGE_FILES)
    return df


def load_hf_dataset(path: str | Path, split: str | None = None) -> pd.DataFrame:
    """A dataset saved with `datasets`' `save_to_disk`; of a DatasetDict, `split` or 'train'.

    Class-label columns are given their class names, so the table reads as the person sees it.
    """
    try:
        from datasets import DatasetDict, load_from_disk
    except ImportError:  # pragma: no cover - a declared dependency
        raise UserError(f"reading '{path}' needs the datasets package") from None
    try:
        data = load_from_disk(str(path))
    except Exception as err:  # datasets raises FileNotFoundError and its own types
        raise UserError(f"'{path}' is not a readable saved dataset: {_first_line(err)}") from None
    if isinstance(data, DatasetDict):
        names = list(data.keys())
        chosen = split or ("train" if "train" in names else names[0])
        if chosen not in names:
            raise UserError(
                f"the saved dataset '{path}' has no split '{chosen}'; its splits are: {', '.join(names)}"
            )
        data = data[chosen]
    df = data.to_pandas()
    for column, feature in data.features.items():
        names_of = getattr(feature, "names", None)
        if names_of and column in df.columns:
            df[column] = df[column].map(lambda i, n=names_of: n[i] if 0 <= i < len(n) else None)
    return df


# --- SQL -----------------------------------------------------------------------------------


def load_sql(source: str | Path, table: str | None = None, query: str | None = None) -> pd.DataFrame:
    """A table (or query result) from a SQLite file or any SQLAlchemy URL.

    `source` may carry the table after '#': 'shop.db#reviews'. With no table or query, a database
    holding exactly one table gives that table; otherwise the error lists the tables.
    """
    import pandas as pd

    text = str(source)
    where, named = split_table(text)
    table = table or named
    if is_url(where):
        return _load_sql_url(_fix_url(where), table, query)
    path = Path(where)
    if not path.is_file():
        raise UserError(f"database file '{where}' does not exist")

    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        ]
    except sqlite3.DatabaseError as err:
        raise UserError(f"'{where}' is not a readable SQLite database: {err}") from None
    try:
        sql = query or f'SELECT * FROM "{_pick_table(where, tables, table)}"'
        try:
            df = pd.read_sql_query(sql, conn)
        except Exception as err:  # pandas wraps sqlite3 errors in its own DatabaseError
            raise UserError(f"reading '{where}' failed: {_first_line(err)}") from None
    finally:
        conn.close()
    return _non_empty(df, where)


def _fix_url(url: str) -> str:
    """A URL that passed through pathlib ('postgresql:/u@h/db') gets its '//' back."""
    found = _URL.match(url)
    assert found is not None
    if url[len(found.group("scheme")) + 1 :].startswith("//"):
        return url
    return f"{found.group('scheme')}://{found.group('rest')}"


def _load_sql_url(url: str, table: str | None, query: str | None) -> pd.DataFrame:
    import pandas as pd

    shown = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)  # never echo a password
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - a declared dependency
        raise UserError(f"reading '{shown}' needs the sqlalchemy package") from None
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names() + sa.inspect(conn).get_view_names()
            sql = query or f'SELECT * FROM "{_pick_table(shown, tables, table)}"'
            df = pd.read_sql_query(sa.text(sql), conn)
    except UserError:
        raise
    except Exception as err:  # driver missing, connection refused, bad SQL
        raise UserError(f"reading '{shown}' failed: {_first_line(err)}") from None
    return _non_empty(df, shown)


def _pick_table(where: str, tables: list[str], table: str | None) -> str:
    if table is not None:
        if table not in tables:
            raise UserError(
                f"'{where}' has no table '{table}'; its tables are: {', '.join(tables) or 'none'}"
            )
        return table
    if len(tables) == 1:
        return tables[0]
    if not tables:
        raise UserError(f"'{where}' holds no tables")
    raise UserError(f"'{where}' holds several tables ({', '.join(tables)}); name one as '{where}#TABLE'")


def _non_empty(df: pd.DataFrame, where: str) -> pd.DataFrame:
    if len(df) == 0 or len(df.columns) == 0:
        raise UserError(f"'{where}' has no data rows")
    return df


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
