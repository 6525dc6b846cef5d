"""A step's artefacts, kept by the content of what they depend on (`run --reuse`).

A step's *key* is the SHA-256 of its inputs: the files it reads, by content, and the options and
earlier results that change what it does (the caller says which, `agents.step_reuse`). When a step
finishes, its *record* (the key, the inputs, every file it wrote with its SHA-256, its result and
the run it ran in) is kept in the library: $TRAINER_AGENT_HOME/steps/<step>/<key>.json, and each
file under steps/blobs/<sha256> (a copy, or a hard link for a file of 1 MiB or more), so what a
later step of that run rewrites (the report fills in the model card) or a deleted run directory does
not matter. A later step with the same key copies those files into its own run directory, checks
each copy against the recorded hash, and returns the recorded result with the old run directory's
paths replaced by the new one's. A missing record, a kept file that is gone or changed, or a copy
that does not match is a miss, with the reason: the step then does its work.

The files are the new run's own: a text file (under 1 MiB) that names the old run directory or run
id (a data card's paths, a job's spec, the service's Dockerfile and Kubernetes names) has them
replaced by the new run's once its copy is checked, and the record says which files were
rewritten. So that a rewritten file still hashes as its original when a later step's key reads it,
`tree_hashes` hashes such files with the run's directory and id replaced by placeholders.

The library is pruned when a record is kept: each step keeps its `KEEP_ENV` newest records
(default `KEEP_DEFAULT`; by the time each was kept), and a kept file that no record names any more
(and that is older than `BLOB_GRACE_S`, so a record being kept at the same moment is not robbed) is
deleted.

    key = step_key({"data": file_sha256("reviews.csv"), "seed": 0})
    before = snapshot(run_dir)
    ...                                                  # the step's work
    files = produced(run_dir, before)                     # {path: SHA-256} of what it wrote
    save_record(Record("data", key, inputs, run_id, str(run_dir), files, result, 8.6), run_dir)
    hit = restore("data", key, new_run_dir)               # a Record (the result rewritten), or why not
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer_agent.skills.atomic_write import write_atomic
from trainer_agent.skills.data.catalog import home
from trainer_agent.skills.errors import UserError

# binary files this large (models, data: written once) are kept as hard links; text files (a log
# that a later `serve` of the earlier run appends to) and smaller ones are copied, so that nothing
# changes what is kept; text files of any size are rewritten to name the run they are copied into
LINK_FROM = 1 << 20
CHUNK = 1 << 20

# written by the run itself, not by a step: never a step's artefact
NOT_ARTEFACTS = frozenset({"state.json", "transcript.jsonl", "owner.lock", "request.txt"})

KEEP_ENV = "TRAINER_AGENT_KEEP_STEPS"  # records kept per step (the newest)
KEEP_DEFAULT = 20
BLOB_GRACE_S = 3600  # a kept file younger than this is never pruned (its record may be on its way)
MIN_ID = 8  # a run id shorter than this is not rewritten in files (it could be an ordinary word)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def step_key(inputs: dict[str, Any]) -> str:
    """SHA-256 of the inputs, as canonical JSON."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def portable(value: Any, run_dir: str | Path) -> Any:
    """`value` (JSON-like) with the run directory's path replaced by `<run>` (and its id by
    `<run-id>`), so the same result in two run directories hashes the same."""
    pairs = _names(run_dir, Path(run_dir).resolve().name)
    return json.loads(_rename(json.dumps(value, default=str).encode(), pairs))


def _names(run_dir: str | Path, run_id: str) -> list[tuple[bytes, bytes]]:
    """What names a run in its files, longest first: its directory (as text and as JSON escapes it)
    and its id (when long enough to be no ordinary word), each with its placeholder."""
    where = str(Path(run_dir).resolve())
    out = [(where.encode(), b"<run>"), (json.dumps(where)[1:-1].encode(), b"<run>")]
    if len(run_id) >= MIN_ID:
        out.append((run_id.encode(), b"<run-id>"))
    return out


def _rename(data: bytes, pairs: list[tuple[bytes, bytes]]) -> bytes:
    for old, new in pairs:
        if old in data:
            data = re.sub(rb"(?<![0-9A-Za-z])" + re.escape(old) + rb"(?![0-9A-Za-z])", new, data)
    return data


def _is_text(path: Path) -> bool:
    """Whether a file is UTF-8 text (what may name a run), read in chunks whatever its size."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def portable_sha256(path: str | Path, run_dir: str | Path) -> str:
    """SHA-256 of a file with its run's directory and id replaced by placeholders (text files), so
    a file rewritten for a new run hashes as the one it was copied from."""
    if not _is_text(Path(path)):
        return file_sha256(path)
    digest, names = hashlib.sha256(), _names(run_dir, Path(run_dir).resolve().name)
    with Path(path).open("rb") as f:
        for line in f:  # no name of a run spans a line break
            digest.update(_rename(line, names))
    return digest.hexdigest()


def tree_hashes(run_dir: str | Path, *folders: str) -> dict[str, str]:
    """{path relative to the run directory: SHA-256, run-independent} of every file under the given
    folders."""
    root = Path(run_dir)
    return {
        p.relative_to(root).as_posix(): portable_sha256(p, root)
        for folder in folders
        for p in sorted((root / folder).rglob("*"))
        if p.is_file() and not p.name.endswith(".tmp")
    }


def snapshot(run_dir: str | Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of the run directory's files, to tell later what a step wrote."""
    root = Path(run_dir)
    out = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in NOT_ARTEFACTS and not p.name.endswith(".tmp"):
            st = p.stat()
            out[rel] = (st.st_size, st.st_mtime_ns)
    return out


def produced(run_dir: str | Path, before: dict[str, tuple[int, int]]) -> dict[str, str]:
    """{relative path: SHA-256} of the files written or changed since `before` was taken."""
    after = snapshot(run_dir)
    return {
        rel: file_sha256(Path(run_dir) / rel) for rel, sig in sorted(after.items()) if before.get(rel) != sig
    }


@dataclass
class Record:
    step: str
    key: str
    inputs: dict[str, Any]
    run_id: str
    run_dir: str
    files: dict[str, str]  # relative path -> SHA-256
    result: Any
    seconds: float  # how long the step's work took in its run
    rewritten: list[str] = field(default_factory=list)  # set by `restore`: files renamed to the new run


def library() -> Path:

    return home() / "steps"


def save_record(record: Record, run_dir: str | Path) -> Path:
    """Keep `record` and its files (atomically: a reader sees the old record or the new one)."""
    blobs = library() / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for rel, digest in record.files.items():
        blob = blobs / digest
        if not blob.is_file():
            tmp = blobs / f"{digest}.tmp"
            tmp.unlink(missing_ok=True)
            src = Path(run_dir) / rel
            try:
                if src.stat().st_size < LINK_FROM or _is_text(src):
                    raise OSError("small, or text a later command may append to: a copy")
                os.link(src, tmp)
            except OSError:  # small, another file system, or no hard links: a copy
                shutil.copy2(src, tmp)
            os.replace(tmp, blob)
    path = library() / record.step / f"{record.key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(asdict(record), indent=1, default=str), durable=True)
    prune(keep_per_step())
    return path


def keep_per_step() -> int:
    """How many records each step keeps (`KEEP_ENV`, default `KEEP_DEFAULT`).

    Raises:
        UserError: the variable is not a whole number of 1 or more."""

    given = os.environ.get(KEEP_ENV, "").strip()
    if not given:
        return KEEP_DEFAULT
    if not given.isdigit() or int(given) < 1:
        raise UserError(f"{KEEP_ENV} must be a whole number of 1 or more, not {given!r}.")
    return int(given)


def prune(keep: int) -> dict[str, int]:
    """Keep each step's `keep` newest records and the files they name; the number of records and
    files deleted."""
    root = library()
    deleted = {"records": 0, "files": 0}
    if not root.is_dir():
        return deleted
    named: set[str] = set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "blobs"):
        records = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in records[keep:]:
            old.unlink(missing_ok=True)
            deleted["records"] += 1
        for kept in records[:keep]:
            try:
                named |= set(json.loads(kept.read_text(encoding="utf-8"))["files"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # unreadable: `find` treats it as absent, and so do its files
    if not deleted["records"]:
        return deleted  # nothing dropped: every kept file is still named (or on its way)
    now = time.time()
    for blob in (root / "blobs").glob("*"):
        if blob.name not in named and now - blob.stat().st_mtime > BLOB_GRACE_S:
            blob.unlink(missing_ok=True)
            deleted["files"] += 1
    return deleted


def find(step: str, key: str) -> Record | None:
    path = library() / step / f"{key}.json"
    try:
        return Record(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # none, or unreadable: the step runs


def _rewrite(path: Path, pairs: list[tuple[bytes, bytes]]) -> bool:
    """Rewrite a text file in place with each name of a run replaced; whether anything changed."""
    out, changed = path.with_name(path.name + ".renamed"), False
    with out.open("wb") as f, path.open("rb") as src:
        for line in src:
            renamed = _rename(line, pairs)
            changed |= renamed != line
            f.write(renamed)
    if changed:
        os.replace(out, path)
    else:
        out.unlink()
    return changed


def available(step: str, key: str) -> bool:
    """Whether a record of `step` with this key and all its kept files are there (not yet checked)."""
    record = find(step, key)
    return record is not None and all((library() / "blobs" / d).is_file() for d in record.files.values())


def restore(step: str, key: str, run_dir: str | Path) -> Record | str:
    """The record of an earlier `step` with this key, its files copied into `run_dir` and checked,
    then (text files, and the result) rewritten to name `run_dir` and its run id instead of the
    earlier run's; or one sentence saying why it cannot be reused. `files` then holds the copies'
    SHA-256 and `rewritten` the files that named the earlier run."""
    record = find(step, key)
    if record is None:
        return "no earlier run had the same inputs"
    blobs, dest = library() / "blobs", Path(run_dir).resolve()
    rename = [
        (old, new.replace(b"<run>", str(dest).encode()).replace(b"<run-id>", dest.name.encode()))
        for old, new in _names(record.run_dir, record.run_id)
    ]
    if missing := [rel for rel, digest in record.files.items() if not (blobs / digest).is_file()]:
        return f"the library no longer keeps run {record.run_id}'s {missing[0]}"
    for rel, digest in record.files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(blobs / digest, tmp)
        if file_sha256(tmp) != digest:  # the kept file changed since
            tmp.unlink()
            return f"the library's copy of run {record.run_id}'s {rel} does not match its SHA-256"
        if _is_text(tmp) and _rewrite(tmp, rename):
            record.files[rel] = file_sha256(tmp)
            record.rewritten.append(rel)
        os.replace(tmp, target)
    record.result = json.loads(_rename(json.dumps(record.result).encode(), rename))
    return record
