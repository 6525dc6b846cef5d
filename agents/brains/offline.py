"""The offline planner: a deterministic AG2 ModelClient that follows each agent's SOP from the
run state, so the whole product works with no LLM configured.

Each agent gets its own instance (`register_model_client(..., agent_name=..., run=...)`). Given
the chat so far, it answers what that agent's SOP prescribes next: a tool call for the next
unfinished step, or a summary that carries the agent's spec as JSON. The Task agent checks each
specialist's spec, names the next speaker with `NEXT: <agent>`, and ends with `TERMINATE`.
"""

from __future__ import annotations

import json
from typing import Any

from openai.types.chat import ChatCompletion

from trainer_agent.agents import person, review, summaries
from trainer_agent.agents.brains.completion import FreeClient, completion
from trainer_agent.agents.brains.next_step import Action, next_work
from trainer_agent.agents.brains.offline_args import arguments
from trainer_agent.agents.routing import HUB, SPECIALISTS, TERMINATE
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.spec_check import MAX_SPEC_RETRIES, check_specialist_message
from trainer_agent.skills.pipeline import owner, specialist_steps, tool_for

MODEL_NAME = "offline-planner"


def decide(agent_name: str, run: Run, messages: list[dict[str, Any]]) -> Action:
    if agent_name == HUB:
        return _task_agent(run, messages)
    for step in specialist_steps(agent_name):
        if not run.done(step):
            return Action(tool=tool_for(step), args=arguments(run, step))
    if agent_name == owner("train") and (remedy := review.pending(run)) is not None:
        last = messages[-1] if messages else {}
        if not (last.get("tool_responses") or last.get("role") == "tool"):  # not yet called
            return Action(tool=tool_for("train"), args=remedy)
    return Action(text=summaries.specialist_summary(agent_name, run))


def _task_agent(run: Run, messages: list[dict[str, Any]]) -> Action:
    if not run.done("parse"):
        return Action(tool=tool_for("parse"))

    if (turn := person.task_turn(run, messages)) is not None:
        return Action(tool=turn.tool, text=turn.text)
    spec = run.result("parse")
    if spec["decision"] != "accept":
        if not run.done("report"):
            return Action(tool=tool_for("report"))
        return Action(text=summaries.final_summary(run) + "\n" + TERMINATE)

    last = messages[-1] if messages else {}
    if last.get("name") in SPECIALISTS and not last.get("tool_calls"):
        problem = check_specialist_message(last["name"], last.get("content"))
        if problem:
            retries = run.state.setdefault("spec_retries", {})
            retries[last["name"]] = retries.get(last["name"], 0) + 1
            run.save()
            if retries[last["name"]] <= MAX_SPEC_RETRIES:
                return Action(text=f"{problem} Send the corrected JSON.\nNEXT: {last['name']}")
            run.fatal = RuntimeError(
                f"{last['name']} sent an invalid spec {MAX_SPEC_RETRIES + 1} times: {problem}"
            )
            return Action(text=f"Stopping: {run.fatal}\n{TERMINATE}")
    if (said := review.task_turn(run, person=person.present(run))) is not None:
        if said.rstrip().endswith("NEXT: user"):
            person.chat_state(run)["awaiting"] = "review"
            run.save()
        if said.rstrip().endswith("NEXT: model_agent") or said.rstrip().endswith("NEXT: user"):
            return Action(text=said)
        following = next_work(run)
        return Action(tool=following.tool, text=said + ("\n" + following.text if following.text else ""))
    return next_work(run)


class OfflinePlanner(FreeClient):
    """AG2 ModelClient protocol: create here, the rest from FreeClient."""

    MODEL_NAME = MODEL_NAME

    def __init__(
        self, config: dict[str, Any], agent_name: str = "", run: Run | None = None, **_: Any
    ) -> None:
        self.config = config
        self.agent_name = agent_name
        self.run = run

    def create(self, params: dict[str, Any]) -> ChatCompletion:
        assert self.run is not None, "OfflinePlanner needs the run (register_model_client(run=...))"
        action = decide(self.agent_name, self.run, list(params.get("messages", [])))
        calls: list[tuple[str | None, str, str]] = []
        if action.tool:
            calls.append((None, action.tool, json.dumps(action.args)))
        return completion(MODEL_NAME, action.text, calls)
