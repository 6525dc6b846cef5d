"""The replay brain: a ModelClient that returns, for each agent, the outputs that agent produced in
a recorded conversation (`transcript.jsonl`), in order. It needs no LLM access, whatever brain
recorded the conversation; the tools are run again (or answer from the recorded results).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from openai.types.chat import ChatCompletion

from trainer_agent.agents.brains.completion import FreeClient, completion
from trainer_agent.agents.run_state import Run

MODEL_NAME = "replay"


class ReplayExhausted(RuntimeError):
    """An agent was asked to speak more often than it did in the recording."""


def recorded_outputs(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each agent's outputs in order: {"content": str | None, "tool_calls": [(id, name, args)]}."""
    by_seq: dict[tuple[int, int], dict[str, Any]] = {}
    session = 0
    for record in records:
        if record.get("event") == "resumed":
            session += 1  # a resumed run restarts message numbering
        if record.get("type") not in ("message", "tool_call") or record.get("speaker") == "user":
            continue
        key = (session, int(record.get("seq", -1)))
        out = by_seq.setdefault(key, {"speaker": record["speaker"], "content": None, "tool_calls": []})
        if record["type"] == "tool_call":
            out["tool_calls"].append((record.get("id"), record.get("tool"), record.get("arguments") or "{}"))
        else:
            out["content"] = record.get("content")
    per_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key in sorted(by_seq):
        out = by_seq[key]
        per_agent[out.pop("speaker")].append(out)
    return dict(per_agent)


SESSION_MARK = "#session="


def split_sessions(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A transcript cut at each `resumed` event: one list per session (a resume starts a new one)."""
    sessions: list[list[dict[str, Any]]] = [[]]
    for record in records:
        if record.get("event") == "resumed":
            sessions.append([])
        sessions[-1].append(record)
    return sessions


PERSON_EVENTS = ("request_changed", "data_changed", "redo", "go_on")


def person_events(records: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """What a chat did with the person's words (`agents.person`: a changed request, new data, steps
    to redo, 'go on'), keyed by the `seq` of the message after which it happened."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    last = -1
    for record in records:
        if "seq" in record:
            last = int(record["seq"])
        elif record.get("event") in PERSON_EVENTS:
            out[last].append(record)
    return dict(out)


class ReplayClient(FreeClient):
    """AG2 ModelClient protocol over one agent's recorded outputs (create here, the rest inherited)."""

    MODEL_NAME = MODEL_NAME

    def __init__(
        self,
        config: dict[str, Any],
        agent_name: str = "",
        outputs: list[Any] | None = None,
        run: Run | None = None,
    ) -> None:
        self.config = config
        self.agent_name = agent_name
        self.outputs = list(outputs or [])
        self.run = run
        self.calls = 0

    def create(self, params: dict[str, Any]) -> ChatCompletion:
        if self.calls >= len(self.outputs):
            error = ReplayExhausted(
                f"{self.agent_name} spoke more often than in the recording ({len(self.outputs)})"
            )
            if self.run is not None:
                self.run.fatal = error
            return completion(MODEL_NAME, f"(replay: {error})", [])
        output = self.outputs[self.calls]
        self.calls += 1
        return completion(MODEL_NAME, output["content"], output["tool_calls"])


class ReplayBrain:
    """The brain object `agents.chat.run_conversation` uses for `replay:PATH`."""

    stop_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, run: Run, transcript: str | Path) -> None:
        """`transcript`: a transcript.jsonl, optionally ending in `#session=N` (0-based) to replay only
        that session of a run that was resumed (what each agent said in it, in order)."""
        self.run = run
        path, _, session = str(transcript).partition(SESSION_MARK)
        self.path = Path(path)
        records = [
            json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        if session:
            records = split_sessions(records)[int(session)]
        self.outputs = recorded_outputs(records)
        self.person_events = person_events(records)
        self.seen = 0  # messages appended so far in this session (the recording's `seq`)
        which = f", session {int(session) + 1}" if session else ""
        self.description = f"replay of {self.path}{which} (recorded outputs; no LLM)"

    def llm_config(self, agent_name: str) -> dict[str, Any]:
        return {
            "config_list": [{"model": MODEL_NAME, "model_client_cls": "ReplayClient"}],
            "cache_seed": None,
        }

    def code_execution_config(self) -> bool:
        return False

    def attach(self, agents: dict[str, Any]) -> None:
        for name, agent in agents.items():
            agent.register_model_client(
                model_client_cls=ReplayClient,
                agent_name=name,
                outputs=self.outputs.get(name, []),
                run=self.run,
            )

    def route(self, messages: list[dict[str, Any]], name: str | None, plan_next: str | None) -> str | None:
        return name

    def observe(self, speaker: str, message: dict[str, Any]) -> None:
        """After the message the person's words came in, do what the recording did with them."""
        from trainer_agent.agents.person import apply_recorded

        for event in self.person_events.get(self.seen, []):
            apply_recorded(self.run, event)
        self.seen += 1

    def finish(self) -> None:
        pass
