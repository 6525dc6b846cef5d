"""The dataset catalog (the "internal database"): what data a person or a team has, searchable.

    cat = Catalog()                                   # ~/.trainer-agent/catalog.db, or $TRAINER_AGENT_HOME
    cat.add("reviews.csv", name="reviews", description="Amazon fine-food reviews, labelled great/other",
            source="modeldata 1.1.0 small_fine_foods", licence="MIT")
    cat.search("food review sentiment")               # best matches first, each with a score in [0, 1]
    Catalog("postgresql://team@db/catalog")           # one catalog shared by a team

Stored with SQLAlchemy Core in one table, so SQLite and PostgreSQL take the same SQL. An entry
records the path, the description, where the data came from and under what licence (both
optional, shown to the person before the Data agent may add the rows to a run:
`skills.data.catalog_data`), the columns, the label column and whether the data is labelled,
partly labelled or an unlabelled pool. Search is by words: each query word that occurs in an
entry's name, description, columns or classes counts its inverse document frequency (twice in
the name), and the score is the share of the query's total weight that matched. A request names
requirements as well as data ("accuracy at least 70%, p95 latency under 20 ms"): numbers and the
words of metrics, units and limits say nothing about the data and are left out of the query.
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

from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.errors import UserError

LABEL_NAMES = ("label", "labels", "target", "class", "category", "score", "y", "sentiment", "species")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    _WORD.findall(
        "a an and the of for to in on with by is are be it this that i me my we our need want model "
        "data dataset set some any from or as at"
    )
)
# Words of requirements (metrics, units, limits) and of asking: in a request, not in a data set.
_QUERY_NOISE = frozenset(
    _WORD.findall(
        "accuracy precision recall f1 auc macro micro latency p50 p90 p95 p99 m ms millisecond second "
        "minute hour parameter param size mb gb kb byte memory qps throughput percent per least most "
        "under over below above within less more than at no max min maximum minimum must should "
        "reach hit get make build train tell whether predict classify classifier detect "
        "which what if can could would like please"
    )
)
_LABELLED = re.compile(r"^label(?:l?ed|l?ing)$")  # labelled, labeled, labelling: label
_NUMBERISH = re.compile(r"^\d+[a-z]{0,2}$")  # 70, 1m, 20ms, 95th: a target or a limit


def home() -> Path:
    return Path(os.environ.get("TRAINER_AGENT_HOME") or Path.home() / ".trainer-agent")


def default_url() -> str:
    return f"sqlite:///{home() / 'catalog.db'}"


def existing(url: str | None = None) -> Catalog | None:
    """The catalog at `url` (default: the local one) if there is one; never creates one. None also
    when it cannot be opened: a run goes on without it."""
    url = url or default_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return None
    try:
        return Catalog(url)
    except UserError:
        return None


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
    source: str = ""  # where the data came from (a URL, a team, a paper); '' when not recorded
    licence: str = ""  # under what licence it may be used; '' when not recorded
    score: float = 0.0


def words(text: str) -> list[str]:
    """Lower-case word stems (a trailing plural 's' removed), without stop words."""
    out = []
    for w in _WORD.findall(text.lower().replace("_", " ")):
        if w in _STOP:
            continue
        w = w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        out.append(_LABELLED.sub("label", w))
    return out


def query_words(text: str) -> list[str]:
    """`words` of a request without numbers and the words of requirements (metrics, units, limits)."""
    return [w for w in words(text) if w not in _QUERY_NOISE and not _NUMBERISH.match(w)]


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
            sa.Column("source", sa.Text),
            sa.Column("licence", sa.Text),
        )
        try:
            meta.create_all(self.engine)
            _add_missing_columns(self.engine, self.table)
        except Exception as err:  # unreachable server, read-only file
            raise UserError(f"cannot open the catalog at '{self.url}': {str(err).splitlines()[0]}") from None

    def add(
        self,
        path: str | Path,
        name: str,
        description: str = "",
        label: str | None = None,
        replace: bool = False,
        source: str = "",
        licence: str = "",
    ) -> Entry:
        """Describe the data at `path` (read once) and store it under `name`, with where it came
        from (`source`) and its `licence` when known."""

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
        where = str(path)
        entry = Entry(
            name=name.strip(),
            path=where if "://" in where else str(Path(where).resolve()),
            description=description,
            kind=kind,
            label_column=label,
            columns=columns,
            classes=classes,
            rows=len(df),
            added=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source=source.strip(),
            licence=licence.strip(),
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
            "source": entry.source,
            "licence": entry.licence,
            "words": " ".join(
                words(" ".join([entry.name, description, *columns, *classes, Path(where).stem]))
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
        """Entries relevant to `query`, best first; the score is the matched share of the query's weight
        (its `query_words`)."""
        terms = list(dict.fromkeys(query_words(query)))
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
        source=row.get("source") or "",
        licence=row.get("licence") or "",
    )


def _add_missing_columns(engine: Any, table: Any) -> None:
    """Columns added since a catalog was created (source, licence), added to its table in place."""
    import sqlalchemy as sa

    have = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in have:
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} TEXT"))
