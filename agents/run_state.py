"""One run: its directory, its step state (`state.json`) and its transcript.

Every stage of the pipeline is a *step* (the steps, their order and prerequisites are the table in
`skills/pipeline.py`). A step that finished has its result in `state.json`, so a
run that was interrupted (Ctrl-C, kill -9, crash) can be resumed: finished steps return their
recorded result instead of doing the work again.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainer_agent.agents.transcript import Transcript
from trainer_agent.skills.atomic_write import write_atomic
from trainer_agent.skills.errors import UserError, disk_full, is_disk_full, write_error
from trainer_agent.skills.pipeline import Step, next_step

STATE_FILE = "state.json"


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


@dataclass
class RunOptions:
    """What the person asked for on the command line; saved so `resume` can rebuild the run."""

    request: str
    data: str | None = None
    test_data: str | None = None
    unlabelled: str | None = None  # rows without labels: the teacher's pool (skills.model.distill)
    label: str | None = None
    text: str | None = None
    llm: str = "offline"
    approve: str = "auto"
    serve: bool = False
    seed: int = 0
    sandbox: str = "auto"
    gpus: str | None = None
    max_llm_calls: int | None = None  # LLM brains: stop cleanly before call N+1
    max_cost: float | None = None  # LLM brains: stop once the calls cost this much (USD)
    max_seconds: float | None = None  # LLM brains: wall-clock budget of the conversation
    budget_min: float | None = None  # Model agent: minutes for choosing and tuning models
    max_trials: int | None = None  # Model agent: a count budget instead (skills.model.search_budget)
    max_epochs: int | None = None
    model_dir: str | None = None  # a saved transformers model to start from (teacher)
    reuse: bool = False  # reuse a registered model that meets the request on the same data
    warm_start: bool = True  # start from the closest registered model's family and settings

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Run:
    run_dir: Path
    options: RunOptions
    state: dict[str, Any] = field(default_factory=dict)
    fatal: Exception | None = None
    sandbox: Any = None  # the run's Sandbox, created on first job (agents.sandbox_jobs)
    log: Callable[[str], None] | None = None  # where job output is shown live, if anywhere
    transcript: Transcript = field(init=False)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir).resolve()
        self.transcript = Transcript(self.run_dir / "transcript.jsonl")

    # -- creation and loading -------------------------------------------------------------------
    @classmethod
    def create(cls, out_dir: str | Path, options: RunOptions, run_id: str | None = None) -> Run:
        """A new run directory under `out_dir`; a full disk or an unwritable folder is a UserError."""

        run_id = run_id or new_run_id()
        run_dir = Path(out_dir) / run_id
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
            (run_dir / "request.txt").write_text(options.request + "\n", encoding="utf-8")
        except OSError as err:
            raise write_error(err, run_dir / "request.txt") from err
        run = cls(run_dir=run_dir, options=options)
        run.state = {
            "run_id": run_id,
            "status": "running",
            "created": _now(),
            "options": options.to_dict(),
            "steps": {},
            "durations": {},
        }
        try:
            run.save()
        except UserError as err:  # nothing to resume yet
            raise (disk_full(run_dir, resumable=False) if is_disk_full(err) else err) from err
        return run

    @classmethod
    def load(cls, run_dir: str | Path) -> Run:
        """The run recorded in `run_dir`; one sentence (UserError) when it is none or is damaged."""

        state = read_state(run_dir)
        options = state.get("options")
        known = set(RunOptions.__dataclass_fields__)
        if not isinstance(options, dict):
            problem = "no options"
        elif unknown := sorted(set(options) - known):
            problem = f"unknown option {unknown[0]!r}"
        elif not isinstance(options.get("request"), str):
            problem = "no request"
        elif not isinstance(state.get("steps"), dict):
            problem = "no steps"
        elif not isinstance(state.get("run_id"), str):
            problem = "no run_id"
        else:
            return cls(run_dir=Path(run_dir), options=RunOptions(**options), state=state)
        raise UserError(
            f"'{Path(run_dir) / STATE_FILE}' is damaged ({problem}); the run cannot be resumed: restore "
            "the file or start a new run."
        )

    @property
    def run_id(self) -> str:
        return str(self.state["run_id"])

    def save(self) -> None:
        """Write state.json atomically and durably (a temporary file, fsync, rename), so a kill or a
        power cut mid-write never leaves a torn file. A write that fails (a full disk) removes the
        temporary file, keeps the last state.json and raises a UserError (DiskFull) in one sentence."""

        path = self.run_dir / STATE_FILE
        try:
            write_atomic(path, json.dumps(self.state, indent=2, default=str), durable=True)
        except OSError as err:
            raise write_error(err, path, self.run_dir) from err

    # -- steps ----------------------------------------------------------------------------------
    def done(self, step: str) -> bool:
        return self.state["steps"].get(step, {}).get("status") == "done"

    def result(self, step: str) -> Any:
        return self.state["steps"].get(step, {}).get("result")

    def done_steps(self) -> set[str]:
        return {name for name, st in self.state["steps"].items() if st.get("status") == "done"}

    def decision(self) -> str | None:
        """The TaskSpec's decision ("accept", "ask", ...) once the request was read, else None."""
        parsed = self.result("parse") if self.done("parse") else None
        return parsed.get("decision") if isinstance(parsed, dict) else None

    def next_step(self) -> Step | None:
        """The first step of the pipeline (`skills.pipeline`) that has not finished."""
        return next_step(self.done_steps())

    def step(self, name: str, fn: Callable[[], Any], args: dict[str, Any] | None = None) -> Any:
        """Run `fn` as step `name` once; return the recorded result if it already finished.

        `fn` returns something JSON-serialisable (usually a spec's `model_dump()`); `args` are the
        tool arguments the step ran with (`agents.tool_args`), recorded beside its result.
        """
        if self.done(name):
            self.transcript.event("step_skipped", step=name, reason="already done (resumed run)")
            return self.result(name)
        self.state["steps"][name] = {"status": "running", "started": _now(), "args": args or {}}
        self.save()
        t0 = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - t0, 3)
        self.state["steps"][name] = {
            "status": "done",
            "ended": _now(),
            "seconds": seconds,
            "args": args or {},
            "result": result,
        }
        self.state["durations"][name] = seconds
        self.save()
        self.transcript.event("step_done", step=name, seconds=seconds)
        return result

    def finish(self, status: str, **extra: Any) -> None:
        self.state["status"] = status
        self.state["finished"] = _now()
        self.state.update(extra)
        self.save()


def read_state(run_dir: str | Path) -> dict[str, Any]:
    """state.json of `run_dir` as a dict; one sentence (UserError) when it is missing, unreadable,
    truncated or not a JSON object."""

    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise UserError(f"'{run_dir}' is not a run directory: it has no {STATE_FILE}.")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror}.") from None
    except UnicodeDecodeError:
        raise UserError(f"'{path}' is damaged (not UTF-8 text); restore it or start a new run.") from None
    except json.JSONDecodeError as err:
        raise UserError(
            f"'{path}' is damaged ({err.msg} at line {err.lineno}, column {err.colno}: truncated or "
            "edited?); restore it or start a new run."
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"'{path}' is damaged (not a JSON object); restore it or start a new run.")
    return state


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
