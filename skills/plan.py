"""The Task agent's plan (which agent does what, in which order, within which budget) and its
estimate of time, compute and LLM cost, made before anything runs.

The estimate is a rule of thumb timed on this version's models on 2 CPU cores (fine_foods, 4,000
reviews: about 16 s to train with cross-validated C and 9 s to export and check parity; wine,
178 rows: about 4 s to train); `low`..`high` spans 0.6x to 2x of it. More cores shorten training.
The offline planner calls no LLM, so its LLM cost is 0; `llm_calls` says how many turns an LLM
brain would take, for pricing a configured model.

    from skills.plan import estimate, make_plan
    est = estimate(spec, n_rows=4000, n_features=1, n_classes=2)
    plan = make_plan(spec, est)
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from skills.specs import TaskSpec, TaskType

# (step, agent, tool, what it does): the order in which the Task agent hands over the work. Step
# names and tools are those of agents/tools.py (STEP_OWNER, TOOL_FOR_STEP).
STEPS: tuple[tuple[str, str, str, str], ...] = (
    (
        "parse",
        "task_agent",
        "parse_request",
        "read the request against the data; judge ethics and feasibility",
    ),
    (
        "data",
        "data_agent",
        "prepare_data",
        "load, check and clean the data, hold out a test set, write data_card.md",
    ),
    (
        "train",
        "model_agent",
        "train_model",
        "train {family} within the constraints, evaluate it, write model_card.md",
    ),
    (
        "export",
        "server_agent",
        "export_model",
        "export to ONNX, check parity with the trained model, measure latency",
    ),
    (
        "serve",
        "server_agent",
        "deploy_service",
        "start the web service, smoke-test it, measure throughput and memory",
    ),
    (
        "report",
        "task_agent",
        "write_report",
        "check every requirement against what was measured, write report.md",
    ),
)
STOP_STEPS = ("parse", "report")

OVERHEAD_S = 5.0  # process start, the group chat, the report
LLM_TURNS_PER_STEP = 3  # hand-over, tool call, summary
LOW, HIGH = 0.6, 2.0


def _family(task: TaskType) -> str:
    from skills.train import FAMILIES

    return FAMILIES.get(task, task.value.replace("_", " ") + " model")


def _train_seconds(task: TaskType, rows: int, features: int, classes: int) -> float:
    if task == TaskType.TEXT_CLASSIFICATION:
        from skills.train import CV_MAX_ROWS

        per_row = 0.0035 if rows <= CV_MAX_ROWS else 0.001  # C tuned by cross-validation below CV_MAX_ROWS
        return 2.0 + per_row * rows
    per_tree_cell = 3e-5 * max(1, classes if classes > 2 else 1)  # multi-class boosting: a tree per class
    return 2.0 + per_tree_cell * rows * max(1, features)


def _compute() -> str:
    cores = os.cpu_count() or 1
    gpu = " and an NVIDIA GPU" if shutil.which("nvidia-smi") else ""
    return f"CPU ({cores} core{'s' if cores != 1 else ''}){gpu}"


def estimate(
    spec: TaskSpec, n_rows: int, n_features: int = 1, n_classes: int = 2, n_test: int | None = None
) -> dict[str, Any]:
    """Seconds per step and in total (with a low..high range), compute, and LLM calls and cost."""
    if n_test is None:  # the Data agent holds out 20% when no test file is given
        n_test = max(1, round(0.2 * n_rows))
        n_train = max(1, n_rows - n_test)
    else:
        n_train = n_rows
    steps = {
        "parse": 1.0,
        "data": 0.5 + 2e-5 * n_rows * max(1, n_features),
        "train": _train_seconds(spec.task_type, n_train, n_features, n_classes),
        "export": 3.0 + 0.003 * n_test,
        "serve": 4.0,
        "report": 0.5,
    }
    total = OVERHEAD_S + sum(steps.values())
    return {
        "seconds": round(total, 1),
        "seconds_low": round(LOW * total, 1),
        "seconds_high": round(HIGH * total, 1),
        "steps_seconds": {k: round(v, 1) for k, v in steps.items()},
        "compute": _compute(),
        "rows": n_rows,
        "llm": "offline planner (no LLM)",
        "llm_calls": 0,
        "llm_calls_with_llm_brain": LLM_TURNS_PER_STEP * len(STEPS),
        "llm_cost_usd": 0.0,
        "basis": "rule of thumb timed on 2 CPU cores for this version's models; more cores train faster",
    }


def make_plan(spec: TaskSpec, est: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The steps in order, each with its agent, tool, what it does and its time budget (2x estimate).

    A request that is not accepted gets the short plan: the Task agent writes the report with its
    reasons and questions, and no other agent acts.
    """
    if spec.decision != "accept":
        return [
            {
                "step": step,
                "agent": agent,
                "tool": tool,
                "does": "explain the decision, its reasons and questions in report.md"
                if step == "report"
                else does.format(family=""),
            }
            for step, agent, tool, does in STEPS
            if step in STOP_STEPS
        ]
    seconds = (est or {}).get("steps_seconds", {})
    plan = []
    for step, agent, tool, does in STEPS:
        item: dict[str, Any] = {
            "step": step,
            "agent": agent,
            "tool": tool,
            "does": does.format(family=_family(spec.task_type)),
        }
        if step in seconds:
            item["budget_s"] = round(HIGH * seconds[step] + 1, 0)
        plan.append(item)
    return plan


def plan_lines(plan: list[dict[str, Any]]) -> list[str]:
    """The plan as lines a person reads: '1. data_agent: load, check ... (budget 3 s)'."""
    return [
        f"{i}. {p['agent']}: {p['does']}" + (f" (budget {p['budget_s']:.0f} s)" if "budget_s" in p else "")
        for i, p in enumerate(plan, 1)
    ]
