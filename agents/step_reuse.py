"""`run --reuse`: a step whose inputs hash the same as a step of an earlier run takes that run's
artefacts (copied into this run directory and checked by SHA-256, `skills.step_cache`) instead of
doing its work again. Every run records its steps, so a later `--reuse` run can find them.

What each step depends on is declared here, in `inputs`: the files it reads by content (your data
files; the catalog data sets the data step may merge, each entry's record and file content; the
registered model training warm-starts from; the run's data/, models/, exports/ as the steps before
it left them), the results of the steps before it, the options and tool arguments that change what
it does (for training also where it runs: `--sandbox` and the GPUs it may use), and the project's
source (a new trainer-agent version never takes an old one's artefacts). The report step always
runs: it reads this run's state and files.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from trainer_agent.agents.experiments import record_first, warm_start_for
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.tool_args import ToolArgs, shown
from trainer_agent.sandbox.config import load_config
from trainer_agent.sandbox.image_hash import project_hash
from trainer_agent.sandbox.select import resolve
from trainer_agent.skills.data.catalog import existing
from trainer_agent.skills.serve.deploy import API_KEY_ENV
from trainer_agent.skills.specs import TrainResult
from trainer_agent.skills.step_cache import (
    Record,
    available,
    file_sha256,
    portable,
    produced,
    restore,
    save_record,
    snapshot,
    step_key,
    tree_hashes,
)

REUSABLE = ("parse", "data", "train", "export", "serve")


@functools.lru_cache(maxsize=1)
def code_hash() -> str:

    return project_hash()


def source_hash(path: str | None) -> str | None:
    """SHA-256 of a file, or of a folder's files (names and contents); '' for no path; None for
    what cannot be hashed here (a database URL, a hub id)."""
    if not path:
        return ""
    p = Path(path)
    if p.is_file():
        return file_sha256(p)
    if p.is_dir():
        digest = hashlib.sha256()
        for f in sorted(p.rglob("*")):
            if f.is_file():
                digest.update(f.relative_to(p).as_posix().encode() + b"\0" + file_sha256(f).encode())
        return digest.hexdigest()
    return None


def inputs(run: Run, step: str, args: ToolArgs) -> dict[str, Any] | str:
    """What `step` depends on in this run, or why it cannot be reused."""
    opts = run.options
    files = {"data": opts.data, "test_data": opts.test_data, "unlabelled": opts.unlabelled}
    user = {name: source_hash(path) for name, path in files.items()}
    if None in user.values():
        return "its data is not a file or folder that can be hashed"
    decided = {k: v for k, v in shown(args).items() if k != "why"}  # why: the brain's words only
    out: dict[str, Any] = {"step": step, "code": code_hash(), "args": decided}

    def earlier(*steps: str) -> dict[str, Any]:
        return {s: portable(run.result(s), run.run_dir) for s in steps}

    budget = {k: getattr(opts, k) for k in ("budget_min", "max_trials", "max_epochs", "max_seconds")}
    if step == "parse":
        out |= {"request": opts.request, "files": user, "label": opts.label, "text": opts.text, **budget}
        out["chat"] = run.state.get("chat", {}).get("changes")
    elif step == "data":
        out |= {"files": user, "seed": opts.seed, "approve": opts.approve, **earlier("parse")}
        out["catalog"] = catalog_content(decided.get("use_catalog"))
    elif step == "train":
        if opts.model_dir:
            return "a --model-dir is not hashed"
        out |= {"seed": opts.seed, **budget, **earlier("parse", "data")}
        out |= {"executor": executor(run), "warm_start": warm_start_content(run)}
        out["run_files"] = tree_hashes(run.run_dir, "data")
    elif step == "export":
        out |= earlier("parse", "data", "train")
        out["run_files"] = tree_hashes(run.run_dir, "data", "models")
    elif step == "serve":
        if opts.serve:
            return "--serve keeps a service running, so it starts"

        out |= {"api_key": bool(os.environ.get(API_KEY_ENV)), "approve": opts.approve}
        out |= earlier("parse", "data", "export")
        out["run_files"] = tree_hashes(run.run_dir, "data", "exports")
    return out


def catalog_content(names: list[str] | None) -> list[dict[str, Any]]:
    """The catalog entries the data step may merge (those named; None: every entry, as it picks the
    compatible ones itself), each with its file's content hash: a catalog file changed in place is
    other data."""

    catalog = existing() if names is None or names else None
    try:
        entries = catalog.list() if catalog is not None else []
    except Exception:  # unreachable: the data step goes on without it (`catalog_data.offer`)
        entries = []
    return [
        {**{k: v for k, v in asdict(e).items() if k != "score"}, "content": source_hash(e.path)}
        for e in entries
        if names is None or e.name in names
    ]


def executor(run: Run) -> dict[str, Any]:
    """Where training runs: the sandbox asked for (`auto` as it resolves here: Docker or local) and
    the GPUs it may use."""

    config = load_config(**({"gpus": run.options.gpus} if run.options.gpus else {}))
    return {"sandbox": resolve(run.options.sandbox, config), "gpus": config.gpus}


def warm_start_content(run: Run) -> dict[str, Any] | None:
    """The registered model training would start from: its family, settings and file content."""

    warm = warm_start_for(run)
    if warm is None:
        return None
    path = warm.get("model_path")
    content = file_sha256(path) if path and Path(path).is_file() else None
    return {"families": warm.get("families"), "model": content}


def can_reuse(run: Run, step: str, args: ToolArgs) -> bool:
    """Whether `step` with these arguments would be reused now (its files are checked when taken)."""
    given = inputs(run, step, args)
    return isinstance(given, dict) and available(step, step_key(given))


def _recordable(step: str, result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    if step == "data" and result.get("questions"):  # it changed the request's decision: not a plain result
        return False
    return not (step == "serve" and ("skipped" in result or result.get("running")))


def with_reuse(
    run: Run, step: str, args: ToolArgs, work: Callable[[Run, Any], dict[str, Any]]
) -> dict[str, Any]:
    """Do `work` for `step`, unless `--reuse` finds an earlier run's step with the same inputs; keep
    a record of it for later runs either way. One line says what was reused, and from where."""
    if step not in REUSABLE:
        return work(run, args)
    given = inputs(run, step, args)
    key = step_key(given) if isinstance(given, dict) else None
    if run.options.reuse:
        hit = restore(step, key, run.run_dir) if key else given
        if isinstance(hit, Record):
            _note(run, step, hit)
            AFTER_REUSE.get(step, lambda *_: None)(run, args, hit.result)
            return dict(hit.result)
        run.state.setdefault("reuse", {})[step] = {"reused": False, "key": key, "why": hit}
        _say(run, f"{step}: done again, not reused: {hit}")
    before = snapshot(run.run_dir)
    t0 = time.perf_counter()
    result = work(run, args)
    seconds = round(time.perf_counter() - t0, 3)
    if key and isinstance(given, dict) and _recordable(step, result):
        files = produced(run.run_dir, before)
        save_record(
            Record(step, key, given, run.run_id, str(run.run_dir), files, result, seconds), run.run_dir
        )
    return result


def _note(run: Run, step: str, hit: Record) -> None:
    key = hit.key
    entry = {
        "reused": True,
        "key": key,
        "from_run": hit.run_id,
        "from_dir": hit.run_dir,
        "files": hit.files,
        "rewritten": hit.rewritten,
        "seconds_then": hit.seconds,
    }
    run.state.setdefault("reuse", {})[step] = entry
    run.transcript.event("step_reused", step=step, **entry)
    renamed = f", {len(hit.rewritten)} of them rewritten to name this run" if hit.rewritten else ""
    _say(
        run,
        f"{step}: reused from run {hit.run_id} (inputs sha256 {key[:12]}; {_files(len(hit.files))} copied "
        f"and checked by SHA-256{renamed}; {hit.seconds:.1f} s of work not repeated)",
    )


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _say(run: Run, line: str) -> None:
    if run.log is not None:
        run.log(line)


def _train_reused(run: Run, args: Any, result: dict[str, Any]) -> None:

    record_first(run, args, TrainResult.model_validate(result))


# What a step does besides its result and files, done again when it is reused.
AFTER_REUSE: dict[str, Callable[[Run, Any, dict[str, Any]], None]] = {"train": _train_reused}
