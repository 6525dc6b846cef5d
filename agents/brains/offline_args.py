"""The offline planner's arguments for each step's tool: its decisions, declared once here and
read by the planner (`agents.brains.offline`) and by `run --reuse` when it takes every step
without starting the agents (`agents.reused_run`). Light: no AG2 and no openai import."""

from __future__ import annotations

from typing import Any

from trainer_agent.agents.experiments import plan_budget, plan_families
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.tool_args import DataArgs, Experiment, ExportArgs, ServeArgs, shown
from trainer_agent.skills.data.catalog_data import choose
from trainer_agent.skills.export.variant import compression_limits
from trainer_agent.skills.specs import Requirement


def arguments(run: Run, step: str) -> dict[str, Any]:
    """The offline policy's decisions for `step`'s tool (`agents.tool_args`), every field spelled
    out so the transcript shows them: the Data agent's split, relabelling bar and the catalog data
    sets compatible with the person's data (each still tried and asked about), the plan's
    families and search budget for the first experiment, int8 tried at export only under a
    size, memory or latency limit, replicas sized from the measurements."""

    if step == "data":
        return shown(DataArgs(use_catalog=_catalog_choice(run)))
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
    if step == "export":  # int8 is an experiment worth its time only under a size/memory/latency limit
        stated = (run.result("parse") or {}).get("requirements") or []
        limits = compression_limits([Requirement.model_validate(r) for r in stated])
        return shown(ExportArgs(quantize=bool(limits)))
    if step == "serve":
        return shown(ServeArgs())
    return {}


def _catalog_choice(run: Run) -> list[str] | None:
    """The catalog entries compatible with the person's data (None: no catalog, or a task without)."""

    spec = run.result("parse") or {}
    if not run.options.data:
        return None
    text = spec.get("text_column")
    features = [text] if text else list(spec.get("feature_columns") or [])
    return choose(str(run.options.data), str(spec.get("task_type")), spec.get("label_column"), features)
