"""What every model search shares: the metric it optimises and its defaults when a caller sets
no budget."""

from __future__ import annotations

from trainer_agent.skills.specs import Requirement, TaskType

GB_N_ESTIMATORS = 100


GB_MAX_DEPTH = 3


DEFAULT_SELECT_S = 120.0  # time for trying candidates when a caller gives no budget at all


def primary_metric(task: TaskType, requirements: list[Requirement]) -> tuple[str, str]:
    """(metrics key, scikit-learn scorer) the selection optimises: the first metric requirement's
    kind when there is one, else accuracy or R2."""
    names = [r.name for r in requirements]
    if task == TaskType.TABULAR_REGRESSION:
        if "mae" in names:
            return "mae", "neg_mean_absolute_error"
        if "rmse" in names:
            return "rmse", "neg_root_mean_squared_error"
        return "r2", "r2"
    if any(n in ("f1", "precision", "recall") for n in names) or any(r.label for r in requirements):
        return "f1", "f1_macro"
    return "accuracy", "accuracy"
