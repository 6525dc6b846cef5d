"""The LLM brain: any OpenAI-compatible model drives the four agents through AG2.

`LLMBrain` wires a run's group chat to it, in four parts by concern:

- choosing and configuring (`agents.brains.llm_choice`): `choose(--llm)` before the run, and
  each agent's AG2 `llm_config` (per-agent model overrides) and tools;
- the gate (`agents.brains.llm_gate`) around every agent's `client.create`: usage, budgets,
  the transcript's requests and responses, HTTP failures as one sentence, and reply checks;
- the guards (`agents.brains.llm_guards`): the hub's check of each specialist's spec JSON and
  the routing additions (code to the `user` proxy, the plan's order, a silent hub);
- the code executor (`agents.brains.llm_code`): LLM-written code runs in the sandbox after approval.

What stays here: attaching those parts to the agents, the cross-check (the Task agent's own
reading of the request against `parse_request`'s), and the final usage in the report.

    brain = LLMBrain(run, run.options.llm, render)
    brain.attach(agents)            # after the tools are registered
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from trainer_agent.agents import cross_check, routing
from trainer_agent.agents.brains.llm_choice import StopRun, ag2_config
from trainer_agent.agents.brains.llm_code import ApprovedCodeExecutor
from trainer_agent.agents.brains.llm_guards import Guards
from trainer_agent.agents.llm_config import settings_for
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.transcript import add_secret
from trainer_agent.agents.usage import Usage
from trainer_agent.skills.report import write_report
from trainer_agent.skills.specs import RunReport

DEFAULT_MAX_SECONDS = 7200.0


class LLMBrain(Guards):
    """Everything the LLM path adds to a run's group chat; see the module docstring."""

    def __init__(self, run: Run, spec: str, render: Callable[[str, dict[str, Any]], None] | None = None):
        self.run = run
        self.settings = settings_for(spec)
        for entry in self.settings.endpoints():
            add_secret(entry.key())  # also validates that every key is there
        self.description = self.settings.describe()
        self.render = render
        opts = run.options
        self.usage = Usage(
            run.state.setdefault("llm_usage", {}),
            getattr(opts, "max_llm_calls", None),
            getattr(opts, "max_cost", None),
        )
        self.max_seconds = float(getattr(opts, "max_seconds", None) or DEFAULT_MAX_SECONDS)
        self.deadline = time.monotonic() + self.max_seconds
        self.executor = ApprovedCodeExecutor(run)
        self._code_from: str | None = None
        self._hub_repeats = 0
        self.stop_errors: tuple[type[BaseException], ...] = (StopRun,)

    # configuration ---------------------------------------------------------------------------
    def llm_config(self, agent_name: str) -> dict[str, Any]:
        return ag2_config(self.settings.for_agent(agent_name))

    def code_execution_config(self) -> dict[str, Any]:
        return {"executor": self.executor, "last_n_messages": 1}

    def attach(self, agents: dict[str, Any]) -> None:
        """After tools are registered (that rebuilds each client): gate every client, guard the hub."""
        from autogen import Agent

        for name, agent in agents.items():
            self.gate(name, agent)
        agents[routing.HUB].register_reply([Agent, None], self._hub_guard, position=0)

    # the cross-check -------------------------------------------------------------------------
    def observe(self, speaker: str, message: dict[str, Any]) -> None:
        """Called for every message appended to the chat."""
        state = self.run.state
        if speaker == routing.HUB and "llm_reading" not in state:
            reading = cross_check.reading_of(message.get("content"))
            if reading is not None:
                state["llm_reading"] = reading
                self.run.save()
        if "cross_check" in state or "llm_reading" not in state or not self.run.done("parse"):
            return
        disagreements = cross_check.compare(self.run.result("parse"), state["llm_reading"])
        state["cross_check"] = {
            "agree": not disagreements,
            "disagreements": disagreements,
            "llm_reading": state["llm_reading"],
            "used": "the parser's spec (spec.json)",
        }
        self.run.save()
        self.run.transcript.event("cross_check", **state["cross_check"])
        if self.render is not None:
            text = (
                "the LLM's reading of the request agrees with the parser."
                if not disagreements
                else "the LLM and the parser read the request differently (the run uses the parser's spec):\n"
                + "\n".join(f"- {d}" for d in disagreements)
            )
            self.render("cross-check", {"content": text})

    # the end ---------------------------------------------------------------------------------
    def finish(self) -> None:
        """Record the final usage (calls after write_report included) in the state and the report."""
        summary = self.usage.summary()
        self.run.state["llm_usage"] = self.usage.record
        self.run.save()
        self.run.transcript.event("llm_usage", **summary)
        report_path = self.run.run_dir / "report.json"
        if report_path.exists():
            report = RunReport.model_validate_json(report_path.read_text(encoding="utf-8"))
            report.llm_usage = summary
            report.cross_check = dict(self.run.state.get("cross_check") or {})
            write_report(self.run.run_dir, report)
        if self.render is not None:
            self.render("llm", {"content": self.usage.line()})
