"""The offline planner's arguments for each step's tool: its decisions, declared once here and
read by the planner (`agents.brains.offline`) and by `run --reuse` when it takes every step
without starting the agents (`agents.reused_run`). Light: no AG2 and no openai import."""

from __future__ import annotations

from typing import Any

from trainer_agent.agents.run_state import Run
from trainer_agent.agents.tool_args import DataArgs, Experiment, ExportArgs, ServeArgs, shown


def arguments(run: Run, step: str) -> dict[str, Any]:
    """The offline policy's decisions for `step`'s tool (`agents.tool_args`), every field spelled
    out so the transcript shows them: the Data agent's split and relabelling bar, the plan's
    families and search budget for the first experiment, int8 tried at export, replicas sized
    from the measurements."""
    from trainer_agent.agents.experiments import plan_budget, plan_families

    if step == "data":
        return shown(DataArgs())
    if step == "train":
        budget = plan_budget(run) or {}
        return shown(
            Experiment(
                families=plan_families(run) or None,
                budget_s=budget.get("seconds"),
                max_trials=run.options.max_trials,
                why="the plan's search",
            )
        )
    if step == "export":
        return shown(ExportArgs())
    if step == "serve":
        return shown(ServeArgs())
    return {}
