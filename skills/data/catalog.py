"""The dataset catalog (the "internal database"): what data a person or a team has, searchable.

    cat = Catalog()                                   # ~/.trainer-agent/catalog.db, or $TRAINER_AGENT_HOME
    cat.add("reviews.csv", name="reviews", description="Amazon fine-food reviews, labelled great/other")
    cat.search("food review sentiment")               # best matches first, each with a score in [0, 1]
    Catalog("postgresql://team@db/catalog")           # one catalog shared by a team

Stored with SQLAlchemy Core in one table, so SQLite and PostgreSQL take the same SQL. An entry
records the path, the description, the columns, the label column and whether the data is labelled,
partly labelled or an unlabelled pool. Search is by words: each query word that occurs in an
entry's name, description, columns or classes counts its inverse document frequency (twice in
the name), and the score is the share of the query's total weight that matched.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError

LABEL_NAMES = ("label", "labels", "target", "class", "category", "score", "y", "sentiment", "species")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    _WORD.findall(
        "a an and the of for to in on with by is are be it this that i me my we our need want model "
        "data dataset set some any from or as at"
    )
)


def home() -> Path:
    return Path(os.environ.get("TRAINER_AGENT_HOME") or Path.home() / ".trainer-agent")


def default_url() -> str:
    return f"sqlite:///{home() / 'catalog.db'}"


@dataclass
class Entry:
    name: str
    path: str
    description: str = ""
    kind: str = "unknown"  # labelled, partly labelled, unlabelled
    label_column: str | None = None
    columns: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    rows: int | None = None
    added: str = ""
    score: float = 0.0


def words(text: str) -> list[str]:
    """Lower-case word stems (a trailing plural 's' removed), without stop words."""
    out = []
    for w in _WORD.findall(text.lower().replace("_", " ")):
        if w in _STOP:
            continue
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


class Catalog:
    def __init__(self, url: str | None = None) -> None:
        import sqlalchemy as sa

        self.url = url or default_url()
        if self.url.startswith("sqlite:///"):
            Path(self.url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(self.url)
        except Exception as err:  # bad URL or a missing driver
            raise UserError(f"cannot open the catalog at '{self.url}': {str(err).splitlines()[0]}") from None
        meta = sa.MetaData()
        self.table = sa.Table(
            "datasets",
            meta,
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("path", sa.Text, nullable=False),
            sa.Column("description", sa.Text, nullable=False, default=""),
            sa.Column("kind", sa.String(40), nullable=False, default="unknown"),
            sa.Column("label_column", sa.String(200)),
            sa.Column("columns", sa.Text, nullable=False, default="[]"),
            sa.Column("classes", sa.Text, nullable=False, default="[]"),
            sa.Column("rows", sa.Integer),
            sa.Column("added", sa.String(40), nullable=False),
            sa.Column("words", sa.Text, nullable=False, default=""),
        )
        try:
            meta.create_all(self.engine)
        except Exception as err:  # unreachable server, read-only file
            raise UserError(f"cannot open the catalog at '{self.url}': {str(err).splitlines()[0]}") from None

    def add(
        self,
        path: str | Path,
        name: str,
        description: str = "",
        label: str | None = None,
        replace: bool = False,
    ) -> Entry:
        """Describe the data at `path` (read once) and store it under `name`."""
        from trainer_agent.skills.data.data_io import load_table

        if not name.strip():
            raise UserError("a catalog entry needs a name (--name)")
        df = load_table(path)
        columns = [str(c) for c in df.columns]
        if label is not None and label not in columns:
            raise UserError(f"label column '{label}' is not in '{path}'; columns are: {', '.join(columns)}")
        label = label or next((c for c in columns if c.lower() in LABEL_NAMES), None)
        kind, classes = "unlabelled", []
        if label is not None:
            values = df[label]
            present = values.notna() & values.astype("string").str.strip().ne("").fillna(False)
            share = float(present.mean())
            kind = "labelled" if share >= 0.95 else "partly labelled" if share > 0 else "unlabelled"
            classes = [str(c) for c in values[present].astype(str).value_counts().index[:20]]
        source = str(path)
        entry = Entry(
            name=name.strip(),
            path=source if "://" in source else str(Path(source).resolve()),
            description=description,
            kind=kind,
            label_column=label,
            columns=columns,
            classes=classes,
            rows=len(df),
            added=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        row = {
            "name": entry.name,
            "path": entry.path,
            "description": entry.description,
            "kind": entry.kind,
            "label_column": entry.label_column,
            "columns": json.dumps(columns),
            "classes": json.dumps(classes),
            "rows": entry.rows,
            "added": entry.added,
            "words": " ".join(
                words(" ".join([entry.name, description, *columns, *classes, Path(source).stem]))
            ),
        }
        with self.engine.begin() as conn:
            exists = conn.execute(self.table.select().where(self.table.c.name == entry.name)).first()
            if exists is not None and not replace:
                raise UserError(
                    f"the catalog already has a dataset named '{entry.name}'; choose another name"
                )
            if exists is not None:
                conn.execute(self.table.delete().where(self.table.c.name == entry.name))
            conn.execute(self.table.insert().values(**row))
        return entry

    def remove(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(self.table.delete().where(self.table.c.name == name)).rowcount)

    def list(self) -> builtins.list[Entry]:
        with self.engine.connect() as conn:
            rows = conn.execute(self.table.select().order_by(self.table.c.name)).mappings().all()
        return [_entry(r) for r in rows]

    def search(self, query: str, limit: int = 10, min_score: float = 0.2) -> builtins.list[Entry]:
        """Entries relevant to `query`, best first; the score is the matched share of the query's weight."""
        terms = list(dict.fromkeys(words(query)))
        if not terms:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(self.table.select()).mappings().all()
        docs = [(r, set(r["words"].split()), set(words(r["name"]))) for r in rows]
        if not docs:
            return []
        n = len(docs)
        idf = {t: math.log(1 + n / (1 + sum(t in d for _, d, _ in docs))) + 0.1 for t in terms}
        total = sum(idf.values())
        scored = []
        for row, doc, name_words in docs:
            got = sum(idf[t] * (1.0 + (t in name_words)) / 2 for t in terms if t in doc)
            score = got / total
            if score >= min_score:
                entry = _entry(row)
                entry.score = round(score, 3)
                scored.append(entry)
        scored.sort(key=lambda e: (-e.score, e.name))
        return scored[:limit]


def _entry(row: Any) -> Entry:
    return Entry(
        name=row["name"],
        path=row["path"],
        description=row["description"],
        kind=row["kind"],
        label_column=row["label_column"],
        columns=json.loads(row["columns"]),
        classes=json.loads(row["classes"]),
        rows=row["rows"],
        added=row["added"],
    )
