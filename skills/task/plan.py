"""The Task agent's plan (which agent does what, in which order, within which budget) and its
estimate of time, compute and LLM cost, made before anything runs.

The estimate is a rule of thumb timed on this version's models on 2 CPU cores (`_train_seconds`:
fine_foods, 4,000 reviews: about 23 s for the vocabulary/C grid by 3-fold CV and the evaluation,
800 reviews about 5 s; tables: random forest, gradient boosting and logistic regression by 3-fold
CV, wine about 9 s, digits about 47 s, gradient boosting being most of it; about 9 s to export and
check parity); with a time budget (--budget-min) the search takes about the budget. `low`..`high`
spans 0.6x to 2x of it. More cores shorten training.
The offline planner calls no LLM, so its LLM cost is 0; `llm_calls` says how many turns an LLM
brain would take, for pricing a configured model.

    from trainer_agent.skills.task.plan import estimate, make_plan
    est = estimate(spec, n_rows=4000, n_features=1, n_classes=2)
    plan = make_plan(spec, est)
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from trainer_agent.skills.model.model_catalog import candidate, candidates, pretrained_only
from trainer_agent.skills.model.model_library import resolve_pretrained
from trainer_agent.skills.model.search_budget import (
    CV_MAX_ROWS,
    ENCODER_S_PER_ROW,
    SearchBudget,
    default_search_seconds,
    encoder_fits,
    for_data,
)
from trainer_agent.skills.model.train import FAMILIES
from trainer_agent.skills.pipeline import PIPELINE, STOP_STEPS
from trainer_agent.skills.specs import TaskSpec, TaskType

OVERHEAD_S = 5.0  # process start, the group chat, the report
LLM_TURNS_PER_STEP = 3  # hand-over, tool call, summary
LOW, HIGH = 0.6, 2.0


def _family(task: TaskType) -> str:

    return FAMILIES.get(task, task.value.replace("_", " ") + " model")


def _tries(task: TaskType, budget: bool) -> list[str]:
    """The catalog families the search tries, in the order it tries them (`skills.model.select_model`):
    the defaults, or every exportable model family within a budget."""

    try:
        cands = [c for c in candidates(task) if c.role == "model" and (c.exportable if budget else c.default)]
        # a family that needs a local pretrained model is tried only when the library has one
        cands = [c for c in cands if not pretrained_only(c) or resolve_pretrained(c)[1] is not None]
    except Exception:  # an unreadable catalog fails the training step with its own message
        return []
    return [c.name for c in sorted(cands, key=lambda c: (-c.quality, c.cost))]


def _encoder_tried(task: TaskType, budget: bool) -> bool:

    return any(pretrained_only(candidate(task, name)) for name in _tries(task, budget))


def _trains(task: TaskType, budget: bool) -> str:
    names = _tries(task, budget)
    if len(names) > 1:
        return f"try {', '.join(names)} by 3-fold cross-validation, keep the best (or their soft vote)"
    return f"train {names[0] if names else _family(task)}"


JOB_START_S = 3.0  # the training job's own process: Python and scikit-learn imports


def _train_seconds(
    task: TaskType, rows: int, features: int, classes: int, budget: SearchBudget | None = None
) -> float:
    """The training step: the job's start, the search (`skills.model.search_budget`), and the evaluation."""
    search = default_search_seconds(task, rows, features, classes)
    finish = 0.5 + 0.0015 * min(rows, CV_MAX_ROWS) if task == TaskType.TEXT_CLASSIFICATION else 2.0
    if budget is not None and budget.source == "given":  # text tunes for the whole budget; tables
        if task == TaskType.TEXT_CLASSIFICATION:  # tune LightGBM for up to half of it, then the rest
            search = budget.seconds
        elif task == TaskType.IMAGE_CLASSIFICATION:
            search = min(budget.seconds, 1.5 * search)
        else:
            search = min(budget.seconds, 0.5 * budget.seconds + 1.5 * search)
    elif budget is not None and task not in (TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION):
        # the sized default also tunes LightGBM until it converges (within TUNE_SHARE of the budget):
        # measured side by side with the search before it, under load 6-10, digits took 1.07x,
        # breast_cancer 0.97x, diabetes 1.3x: about a fifth more
        search = min(search + 0.5 * budget.seconds, 1.2 * search)
    fits = budget is None or encoder_fits(rows, budget)  # its one embedding pass, not in the budget
    if (
        task == TaskType.TEXT_CLASSIFICATION
        and fits
        and _encoder_tried(task, budget is not None and budget.given)
    ):
        search += ENCODER_S_PER_ROW * rows
    return JOB_START_S + search + finish


def _compute() -> str:
    cores = os.cpu_count() or 1
    gpu = " and an NVIDIA GPU" if shutil.which("nvidia-smi") else ""
    return f"CPU ({cores} core{'s' if cores != 1 else ''}){gpu}"


def estimate(
    spec: TaskSpec,
    n_rows: int,
    n_features: int = 1,
    n_classes: int = 2,
    n_test: int | None = None,
    budget_min: float | None = None,
    max_trials: int | None = None,
    max_epochs: int | None = None,
) -> dict[str, Any]:
    """Seconds per step and in total (with a low..high range), compute, LLM calls and cost, and the
    Model agent's search budget (`skills.model.search_budget`): --budget-min, counts (--max-trials,
    --max-epochs), or else sized to the data; `search_budget` is what training is given."""
    if n_test is None:  # the Data agent holds out 20% when no test file is given
        n_test = max(1, round(0.2 * n_rows))
        n_train = max(1, n_rows - n_test)
    else:
        n_train = n_rows
    budget = for_data(spec.task_type, n_train, n_features, n_classes, budget_min, max_trials, max_epochs)
    steps = {
        "parse": 1.0,
        "data": 0.5 + 2e-5 * n_rows * max(1, n_features),
        "train": _train_seconds(spec.task_type, n_train, n_features, n_classes, budget),
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
        "budget_min": budget_min,
        "search_budget": budget.to_dict(),
        "search_budget_note": budget.describe(),
        "tries": _tries(spec.task_type, budget.given),
        "llm": "offline planner (no LLM)",
        "llm_calls": 0,
        "llm_calls_with_llm_brain": LLM_TURNS_PER_STEP * len(PIPELINE),
        "llm_cost_usd": 0.0,
        "basis": "rule of thumb timed on 2 CPU cores for this version's models; more cores train faster",
    }


def _wide(est: dict[str, Any] | None) -> bool:
    """Whether the search tries every exportable family: the person set its budget."""
    budget = SearchBudget.from_dict((est or {}).get("search_budget"))
    return budget.given if budget is not None else (est or {}).get("budget_min") is not None


def make_plan(spec: TaskSpec, est: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The pipeline's steps (`skills.pipeline`) in order, each with its agent, tool, what it does and
    its time budget (2x estimate).

    A request that is not accepted gets the short plan: the Task agent writes the report with its
    reasons and questions, and no other agent acts.
    """
    if spec.decision != "accept":
        return [
            {
                "step": step.name,
                "agent": step.owner,
                "tool": step.tool,
                "does": "explain the decision, its reasons and questions in report.md"
                if step.name == "report"
                else step.does.format(family=""),
            }
            for step in PIPELINE
            if step.name in STOP_STEPS
        ]
    seconds = (est or {}).get("steps_seconds", {})
    plan = []
    for step in PIPELINE:
        item: dict[str, Any] = {
            "step": step.name,
            "agent": step.owner,
            "tool": step.tool,
            "does": step.does.format(family=_trains(spec.task_type, _wide(est))),
        }
        if step.name == "train" and (est or {}).get("search_budget_note"):
            item["does"] += f" ({(est or {})['search_budget_note'].rstrip('.')})"
        if step.name in seconds:
            item["budget_s"] = round(HIGH * seconds[step.name] + 1, 0)
        plan.append(item)
    return plan


def plan_lines(plan: list[dict[str, Any]]) -> list[str]:
    """The plan as lines a person reads: '1. data_agent: load, check ... (budget 3 s)'."""
    return [
        f"{i}. {p['agent']}: {p['does']}" + (f" (budget {p['budget_s']:.0f} s)" if "budget_s" in p else "")
        for i, p in enumerate(plan, 1)
    ]
