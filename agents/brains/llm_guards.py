"""The hub's guards on the LLM path: a reply function on the Task agent checks each specialist's
spec JSON (repaired, validated against the pydantic contract, compared with what the tool
returned) and sends a bad one back with the error, at most MAX_SPEC_RETRIES times, before the Task
agent's LLM is asked; and the routing additions: code blocks go to the `user` proxy and their
output back to their author, a specialist named out of turn gives way to the plan, and a hub
that neither acts nor names a speaker is asked again (at most MAX_HUB_REPEATS times).

`Guards` is a base of `agents.brains.llm.LLMBrain`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from trainer_agent.agents import routing
from trainer_agent.agents.brains.llm_choice import LLMError, StopRun
from trainer_agent.agents.brains.llm_code import RUNNABLE, ApprovedCodeExecutor
from trainer_agent.agents.brains.llm_gate import Gate
from trainer_agent.agents.json_repair import fenced_blocks, loads_lenient
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.spec_check import MAX_SPEC_RETRIES, SPEC_OF, check_specialist_message, extract_json
from trainer_agent.skills.pipeline import specialist_steps, tool_for

MAX_HUB_REPEATS = 3  # the hub may speak this many times in a row without acting


class Guards(Gate):
    """The hub's guard and the routing additions; the brain sets these attributes."""

    executor: ApprovedCodeExecutor
    _code_from: str | None
    _hub_repeats: int

    def _declined(self) -> bool:
        parsed = self.run.result("parse") if self.run.done("parse") else None
        return isinstance(parsed, dict) and parsed.get("decision") != "accept"

    # the hub's guard: specialists' specs -----------------------------------------------------
    def _hub_guard(self, recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        if self.run.fatal is not None:
            return True, f"Stopping: {self.run.fatal}\n{routing.TERMINATE}"
        last = messages[-1] if messages else {}
        who = last.get("name")
        if who not in routing.SPECIALISTS or last.get("tool_calls"):
            return False, None
        problem, repairs = spec_problem(self.run, who, last.get("content"))
        if problem is None:
            if repairs:
                self.run.transcript.event("spec_repaired", agent=who, repairs=repairs)
            return False, None
        retries = self.run.state.setdefault("spec_retries", {})
        retries[who] = retries.get(who, 0) + 1
        self.run.save()
        self.run.transcript.event("spec_rejected", agent=who, problem=problem, attempt=retries[who])
        if retries[who] <= MAX_SPEC_RETRIES:
            return True, f"{problem}\nNEXT: {who}"
        self.run.fatal = LLMError(
            f"{who} sent an unusable report {MAX_SPEC_RETRIES + 1} times; the last: {problem}"
        )
        return True, f"Stopping: {self.run.fatal}\n{routing.TERMINATE}"

    # routing additions -----------------------------------------------------------------------
    def route(self, messages: list[dict[str, Any]], proposed: str | None, plan: str | None) -> str | None:
        """Adjust the pure routing decision for what only the LLM path has (see module docstring)."""
        if self.run.fatal is not None:
            return None
        who = proposed or "the next speaker"
        try:
            self._check_time(who)
        except StopRun:
            return None
        if not messages:
            return proposed
        last = messages[-1]
        speaker = last.get("name") or routing.EXECUTOR
        is_result = bool(last.get("tool_responses")) or last.get("role") == "tool"
        if self._code_from and speaker == routing.EXECUTOR and not is_result:
            author, self._code_from = self._code_from, None
            return author
        wrote_code = (
            speaker != routing.EXECUTOR and not last.get("tool_calls") and _has_code(last.get("content"))
        )
        if wrote_code and not routing.is_termination(last):
            self._code_from = self.executor.author = speaker
            return routing.EXECUTOR
        if speaker != routing.HUB:
            self._hub_repeats = 0
            return proposed
        if self._declined():  # no specialist has work: the hub reports and ends
            plan = None if self.run.done("report") else routing.HUB
        if proposed in routing.SPECIALISTS and proposed != plan:
            ready = not self._declined() and all(self.run.done(s) for s in specialist_steps(proposed))
            if not ready:
                self.run.transcript.event(
                    "routing", named=proposed, chosen=plan, why="out of the plan's order"
                )
                proposed = plan
        if proposed == routing.HUB or (
            proposed is None and plan is not None and not routing.is_termination(last)
        ):
            self._hub_repeats += 1
            if self._hub_repeats > MAX_HUB_REPEATS:
                self.run.fatal = LLMError(
                    f"the Task agent's model spoke {MAX_HUB_REPEATS + 1} times in a row without calling a "
                    "tool or naming the next agent."
                )
                return None
            return routing.HUB
        self._hub_repeats = 0
        return proposed


def first_difference(theirs: Any, ours: Any, path: str = "") -> str | None:
    """Where the JSON an agent sent contradicts the tool's result.

    Keys it left out, and items missing at the end of a list, are omissions, not contradictions;
    numbers may be rounded (relative 1e-3).
    """
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for key, value in theirs.items():
            if key not in ours:
                continue  # the pydantic contract already rejects unknown fields where it matters
            found = first_difference(value, ours[key], f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(theirs) > len(ours):  # fewer is a shortened list, like a left-out key
            return f"{path} has {len(theirs)} items, the tool returned {len(ours)}"
        for i, (a, b) in enumerate(zip(theirs, ours, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    numbers = (int, float)
    if isinstance(theirs, numbers) and isinstance(ours, numbers) and not isinstance(theirs, bool):
        if math.isclose(float(theirs), float(ours), rel_tol=1e-3, abs_tol=1e-6):
            return None
    elif theirs == ours:
        return None
    return f"{path} is {json.dumps(theirs)} but the tool returned {json.dumps(ours)}"


def tool_result_spec(run: Run, agent: str) -> dict[str, Any] | None:
    """The spec the agent's tools returned, in the form its report must carry."""
    if agent == "server_agent":
        served = run.result("serve") or {}
        return {"export": run.result("export"), "deployment": served if "url" in served else None}
    step = specialist_steps(agent)[0]
    result = run.result(step)
    return result if isinstance(result, dict) else None


def spec_problem(run: Run, agent: str, content: Any) -> tuple[str | None, list[str]]:
    """(what is wrong with the specialist's report or None, the JSON repairs that were needed)."""
    missing = [s for s in specialist_steps(agent) if not run.done(s)]
    name = SPEC_OF[agent].__name__
    if missing:
        tool = tool_for(missing[0])
        return f"{agent}: call {tool} first, then report with its result as your {name} JSON.", []
    problem = check_specialist_message(agent, content)
    if problem:
        return f"{problem} Send the corrected JSON.", []
    text = content if isinstance(content, str) else ""
    theirs = extract_json(text)
    try:
        _, repairs = loads_lenient(text)
    except ValueError:
        repairs = []
    ours = tool_result_spec(run, agent)
    diff = first_difference(theirs, ours) if ours is not None else None
    if diff:
        return (
            f"{agent}: your {name} JSON does not match the tool's result: {diff}. Copy it unchanged.",
            repairs,
        )
    return None, [r for r in repairs if r not in ("code fence", "surrounding text")]


def _has_code(content: Any) -> bool:
    return isinstance(content, str) and any(lang in RUNNABLE for lang, _ in fenced_blocks(content))
