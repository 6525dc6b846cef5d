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
        "{family} within the constraints, evaluate it, write model_card.md",
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


def _tries(task: TaskType, budget: bool) -> list[str]:
    """The catalog families the search tries, in the order it tries them (`skills.select_model`):
    the defaults, or every exportable model family within a budget."""
    from skills.model_catalog import candidates, pretrained_only, resolve_pretrained

    try:
        cands = [c for c in candidates(task) if c.role == "model" and (c.exportable if budget else c.default)]
        # a family that needs a local pretrained model is tried only when the library has one
        cands = [c for c in cands if not pretrained_only(c) or resolve_pretrained(c)[1] is not None]
    except Exception:  # an unreadable catalog fails the training step with its own message
        return []
    return [c.name for c in sorted(cands, key=lambda c: (-c.quality, c.cost))]


def _encoder_tried(task: TaskType, budget: bool) -> bool:
    from skills.model_catalog import candidate, pretrained_only

    return any(pretrained_only(candidate(task, name)) for name in _tries(task, budget))


def _trains(task: TaskType, budget: bool) -> str:
    names = _tries(task, budget)
    if len(names) > 1:
        return f"try {', '.join(names)} by 3-fold cross-validation, keep the best (or their soft vote)"
    return f"train {names[0] if names else _family(task)}"


JOB_START_S = 3.0  # the training job's own process: Python and scikit-learn imports
# A pretrained sentence encoder (tried when the model library has it) embeds every training row:
# all-MiniLM-L6-v2 at 128 pieces took 220 s for the 4,000 demo reviews on 2 shared cores (load
# average ~4; 620 s at ~8).
ENCODER_S_PER_ROW = 0.055


def _train_seconds(
    task: TaskType, rows: int, features: int, classes: int, budget_min: float | None = None
) -> float:
    """The training step, fitted to measurements on 2 cores (train_model wall time plus the job's
    start): text 4,000 rows 23.4 s (+3), 800 rows 4.9 s (+3); tables wine 8.6 s, breast_cancer
    8.3 s, digits 46.9 s (gradient boosting 38.9 s of it), diabetes 4.7 s (each +3), before
    LightGBM joined the defaults: on digits it took 5.4 s to gradient boosting's 20.5 s in one run
    (0.26x), so about 10 s more at the rate above; images 1,437 digits 40-48 s."""
    cells = rows * max(1, features)
    if task == TaskType.TEXT_CLASSIFICATION:
        from skills.train import CV_MAX_ROWS

        # vocabulary x C grid by 3-fold CV below CV_MAX_ROWS, one fit above it
        search = 0.0045 * rows if rows <= CV_MAX_ROWS else 0.001 * rows
        finish = 0.5 + 0.0015 * min(rows, CV_MAX_ROWS)  # evaluation, learning curve, pruned variants
    elif task == TaskType.IMAGE_CLASSIFICATION:
        # pixel logistic regression by CV (9.8 s) + the small CNN with early stopping (30-39 s) on
        # 1,437 digits at 8x8: about 0.03 s an image; larger images cost more (not known here)
        search = 2.0 + 0.03 * rows
        finish = 2.0
    else:
        boosted = max(1, classes if classes > 2 else 1)  # multi-class boosting: a tree per class a stage
        forest, boosting, linear = (
            2.0 + 2e-5 * cells,
            2.5 + 4e-5 * cells * boosted,
            0.3 + 2e-6 * cells * boosted,
        )
        lightgbm = 0.4 + 1.05e-5 * cells * boosted  # 0.26x gradient boosting's time, measured side by side
        search = forest + boosting + linear + lightgbm
        finish = 2.0
    if task == TaskType.TEXT_CLASSIFICATION and _encoder_tried(task, budget_min is not None):
        search += ENCODER_S_PER_ROW * rows  # not inside the budget: the frozen embeddings are one pass
    if budget_min is not None:  # text tunes for the whole budget; tables tune LightGBM for up to
        budget_s = budget_min * 60  # half of it (train_tabular.TUNE_SHARE), then try the rest
        if task == TaskType.TEXT_CLASSIFICATION:
            search = budget_s
        elif task == TaskType.IMAGE_CLASSIFICATION:
            search = min(budget_s, 1.5 * search)
        else:
            search = min(budget_s, 0.5 * budget_s + 1.5 * search)
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
) -> dict[str, Any]:
    """Seconds per step and in total (with a low..high range), compute, and LLM calls and cost;
    `budget_min` is the Model agent's time budget (--budget-min), which training then takes."""
    if n_test is None:  # the Data agent holds out 20% when no test file is given
        n_test = max(1, round(0.2 * n_rows))
        n_train = max(1, n_rows - n_test)
    else:
        n_train = n_rows
    steps = {
        "parse": 1.0,
        "data": 0.5 + 2e-5 * n_rows * max(1, n_features),
        "train": _train_seconds(spec.task_type, n_train, n_features, n_classes, budget_min),
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
        "tries": _tries(spec.task_type, budget_min is not None),
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
            "does": does.format(family=_trains(spec.task_type, (est or {}).get("budget_min") is not None)),
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
