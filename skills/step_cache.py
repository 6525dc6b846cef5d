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

    key = step_key({"data": file_sha256("reviews.csv"), "seed": 0})
    before = snapshot(run_dir)
    ...                                                  # the step's work
    files = produced(run_dir, before)                     # {path: SHA-256} of what it wrote
    save_record(Record("data", key, inputs, run_id, str(run_dir), files, result, 8.6), run_dir)
    hit = restore("data", key, new_run_dir)               # a Record (the result rewritten), or why not
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trainer_agent.skills.atomic_write import write_atomic
from trainer_agent.skills.data.catalog import home

# files this large (models, data: written once) are kept as hard links; smaller ones are copied, so
# a log that a later `serve` of the earlier run appends to does not change what is kept
LINK_FROM = 1 << 20

# written by the run itself, not by a step: never a step's artefact
NOT_ARTEFACTS = frozenset({"state.json", "transcript.jsonl", "owner.lock", "request.txt"})


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
    """`value` (JSON-like) with the run directory's path replaced by `<run>`, so the same result in
    two run directories hashes the same."""
    return _replace(value, str(Path(run_dir).resolve()), "<run>")


def _replace(value: Any, old: str, new: str) -> Any:
    text = json.dumps(value, default=str)
    return json.loads(text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))


def tree_hashes(run_dir: str | Path, *folders: str) -> dict[str, str]:
    """{path relative to the run directory: SHA-256} of every file under the given folders."""
    root = Path(run_dir)
    return {
        p.relative_to(root).as_posix(): file_sha256(p)
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
                if src.stat().st_size < LINK_FROM:
                    raise OSError("small: a copy")
                os.link(src, tmp)
            except OSError:  # small, another file system, or no hard links: a copy
                shutil.copy2(src, tmp)
            os.replace(tmp, blob)
    path = library() / record.step / f"{record.key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(asdict(record), indent=1, default=str), durable=True)
    return path


def find(step: str, key: str) -> Record | None:
    path = library() / step / f"{key}.json"
    try:
        return Record(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # none, or unreadable: the step runs


def available(step: str, key: str) -> bool:
    """Whether a record of `step` with this key and all its kept files are there (not yet checked)."""
    record = find(step, key)
    return record is not None and all((library() / "blobs" / d).is_file() for d in record.files.values())


def restore(step: str, key: str, run_dir: str | Path) -> Record | str:
    """The record of an earlier `step` with this key, its files copied into `run_dir` and checked,
    its result rewritten to `run_dir`'s paths; or one sentence saying why it cannot be reused."""
    record = find(step, key)
    if record is None:
        return "no earlier run had the same inputs"
    blobs, dest = library() / "blobs", Path(run_dir).resolve()
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
        os.replace(tmp, target)
    record.result = _replace(record.result, str(Path(record.run_dir).resolve()), str(dest))
    return record
