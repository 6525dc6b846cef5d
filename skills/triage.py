"""The Task agent's first judgement of a parsed request: go on, ask, or say it cannot be done.

This is the deterministic floor that works offline; the ethics policy and the finer feasibility
checks build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skills.specs import TaskSpec, TaskType

if TYPE_CHECKING:
    import pandas as pd

TRAINABLE = (TaskType.TEXT_CLASSIFICATION, TaskType.TABULAR_CLASSIFICATION, TaskType.TABULAR_REGRESSION)


def triage(spec: TaskSpec, df: pd.DataFrame | None) -> TaskSpec:
    """Set `decision`, `reasons` and `questions` on a copy of `spec`."""
    spec = spec.model_copy(deep=True)
    if df is None:
        spec.decision = "ask"
        spec.reasons.append("A supervised model needs labelled examples, and no data was given.")
        spec.questions.append(
            "Which data should I learn from? Give a file (CSV, TSV, JSONL or Parquet) with --data PATH, "
            "with one column holding the label to predict."
        )
        return spec
    if spec.task_type not in TRAINABLE:
        spec.decision = "infeasible"
        spec.reasons.append(
            f"This version trains text and tabular models; {spec.task_type.value.replace('_', ' ')} "
            "is not available yet."
        )
        return spec
    return spec
