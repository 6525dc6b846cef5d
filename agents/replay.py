"""Batch replay of recorded conversations: re-run each with the replay brain and compare.

`trainer-agent replay PATH...` takes run directories or `transcript.jsonl` files. Each is re-run in
a new run directory with the replay brain (the recorded outputs of every agent, in order). With
exec, the tools run again for real; with `--no-exec` they answer from the recorded results. The
replay is *identical* when the same speakers made the same tool calls in the same order, the
tools failed or succeeded alike, the decision is the same and every metric is within the
tolerance; otherwise it *diverged at step N* (the first differing transcript step).

Approvals are answered as they were recorded (the person's or the policy's decision), and a
`trainer-agent chat` session starts from its first request and data; what the person's words did
(a changed request, new data, steps redone) is done again at the same point of the conversation.

A run that was resumed (`trainer-agent resume`) recorded one session per start. The replay runs
them in turn the same way: each session with that session's recorded outputs, then a resume. A
session that was cut short (the process died) is compared on the steps it recorded.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trainer_agent.agents.approvals import replaying
from trainer_agent.agents.brains.replay import SESSION_MARK, split_sessions
from trainer_agent.agents.chat import run_conversation
from trainer_agent.agents.person import initial_options
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.agents.sandbox_jobs import close_sandbox
from trainer_agent.skills.errors import UserError

STEP_TYPES = ("message", "tool_call", "tool_result")


@dataclass
class ReplayResult:
    source: str
    replay_dir: str
    steps: int
    status: str  # identical | diverged | error
    step: int | None = None
    difference: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _steps(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The comparable skeleton of a conversation: who did what, and whether tools failed."""
    out = []
    for r in records:
        if r.get("type") not in STEP_TYPES:
            continue
        if r["type"] == "tool_call":
            what = str(r.get("tool"))
        elif r["type"] == "tool_result":
            what = "error" if str(r.get("content", "")).startswith("Error:") else "ok"
        else:
            what = "TERMINATE" if str(r.get("content") or "").rstrip().endswith("TERMINATE") else ""
        out.append((str(r.get("speaker")), r["type"], what))
    return out


def _ended(steps: list[tuple[str, str, str]]) -> bool:
    return bool(steps) and steps[-1][2] == "TERMINATE"


def _session_steps(
    recorded: list[dict[str, Any]], replayed: list[dict[str, Any]]
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Both step lists, session by session; where a recorded session was cut short before a resume,
    the replay's session is cut at the same length (what followed was never recorded)."""
    rec, rep = split_sessions(recorded), split_sessions(replayed)
    a: list[tuple[str, str, str]] = []
    b: list[tuple[str, str, str]] = []
    for i in range(max(len(rec), len(rep))):
        x = _steps(rec[i]) if i < len(rec) else []
        y = _steps(rep[i]) if i < len(rep) else []
        if i < len(rec) - 1 and not _ended(x):
            y = y[: len(x)]
        a, b = a + x, b + y
    return a, b


def _describe(step: tuple[str, str, str] | None) -> str:
    if step is None:
        return "nothing (the conversation ended)"
    speaker, kind, what = step
    return f"{speaker} {kind.replace('_', ' ')}" + (f" {what}" if what else "")


def compare(
    recorded: list[dict[str, Any]],
    replayed: list[dict[str, Any]],
    recorded_report: dict[str, Any] | None,
    replayed_report: dict[str, Any] | None,
    tolerance: float,
) -> tuple[int, int | None, str]:
    """(steps compared, first diverging step (1-based) or None, what differs)."""
    a, b = _session_steps(recorded, replayed)
    for i in range(max(len(a), len(b))):
        x, y = (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)
        if x != y:
            return len(a), i + 1, f"expected {_describe(x)}, got {_describe(y)}"
    if (recorded_report is None) != (replayed_report is None):
        return len(a), len(a), "one of the two runs wrote no report"
    if recorded_report and replayed_report:
        if recorded_report.get("decision") != replayed_report.get("decision"):
            return (
                len(a),
                len(a),
                f"decision {recorded_report['decision']} became {replayed_report['decision']}",
            )
        before, after = recorded_report.get("metrics", {}), replayed_report.get("metrics", {})
        for key in sorted(set(before) | set(after)):
            x, y = before.get(key), after.get(key)
            if x is None or y is None or abs(float(x) - float(y)) > tolerance:
                return len(a), len(a), f"metric {key}: {x} became {y} (tolerance {tolerance:g})"
    return len(a), None, ""


def _source(path: str | Path) -> tuple[Path, Path]:
    """(run directory, transcript) for a run directory or a transcript file."""
    p = Path(path)
    transcript = p if p.is_file() else p / "transcript.jsonl"
    if not transcript.is_file():
        raise UserError(f"'{path}' is neither a run directory with a transcript.jsonl nor a transcript file.")
    run_dir = transcript.parent
    if not (run_dir / "state.json").is_file():
        raise UserError(
            f"'{run_dir}' has no state.json, so its inputs are unknown and it cannot be replayed."
        )
    return run_dir, transcript


def replay_one(
    path: str | Path, out: str | Path, execute: bool = True, tolerance: float = 1e-6
) -> ReplayResult:

    run_dir, transcript = _source(path)
    recorded_state = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
    # The model library has changed since the recording: warm-start only if the recorded run did.
    trained = (recorded_state.get("steps", {}).get("train") or {}).get("result") or {}
    warm = bool((trained.get("tuning") or {}).get("warm_start"))
    records = _records(transcript)
    if any(r.get("event") == "reused_without_agents" for r in records):
        reused: list[dict[str, Any]] = list((recorded_state.get("reuse") or {}).values())
        source = reused[0].get("from_dir", "the earlier run") if reused else "the earlier run"
        raise UserError(
            f"'{run_dir}' took every step from an earlier run without starting the agents, so it has no "
            f"conversation to replay: replay {source} instead."
        )
    chat = "chat" in recorded_state  # a `trainer-agent chat` session: start from its first options
    start = initial_options(recorded_state["options"], records) if chat else recorded_state["options"]
    # a replay does the work again (reuse: never)
    options = RunOptions(**{**start, "serve": False, "approve": "auto", "warm_start": warm, "reuse": False})
    Path(out).mkdir(parents=True, exist_ok=True)
    replay = Run.create(out, options, run_id=f"replay-{run_dir.name}-{secrets.token_hex(2)}")
    # the Task agent's review as recorded (the replayed brain says what it said, without reviewing)
    replay.state["review"] = recorded_state.get("review") or {"reviewed": 0, "rounds": []}
    if not execute:  # tools answer from the recorded results; the report is rebuilt from them
        replay.state["steps"] = {k: v for k, v in recorded_state.get("steps", {}).items() if k != "report"}
        replay.state["experiments"] = recorded_state.get("experiments", [])
    replay.save()
    replay.transcript.event("replay", source=str(transcript), execute=execute)
    if chat:
        replay.state["replaying_chat"] = True
        replay.save()
    sessions = split_sessions(records)
    try:
        for i, session in enumerate(sessions):
            if i:  # the recorded run was resumed here: resume the replay the same way
                replay.fatal = None
                replay.state["status"] = "running"
                replay.transcript.event("resumed")
            brain = f"replay:{transcript}" + (f"{SESSION_MARK}{i}" if len(sessions) > 1 else "")
            with replaying(replay, session):  # the recorded approvals, in order
                run_conversation(replay, brain=brain)
    finally:
        close_sandbox(replay)
    replay.finish("replayed")

    def report(folder: Path) -> dict[str, Any] | None:
        path = folder / "report.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    steps, step, difference = compare(
        _records(transcript),
        _records(replay.transcript.path),
        report(run_dir),
        report(replay.run_dir),
        tolerance,
    )
    if replay.fatal is not None and step is None:
        step, difference = steps, f"the replay stopped: {replay.fatal}"
    return ReplayResult(
        source=str(run_dir),
        replay_dir=str(replay.run_dir),
        steps=steps,
        status="identical" if step is None else "diverged",
        step=step,
        difference=difference,
    )
