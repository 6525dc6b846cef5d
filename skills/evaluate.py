"""Held-out metrics and the check of measured numbers against the person's requirements.

Metric names follow `skills.specs.METRIC_NAMES`; per-class metrics are keyed like
`recall[other]`, which is what `Requirement.key` produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skills.specs import Requirement, RequirementResult


def compute_metrics(
    task_type: str,
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    proba: Any = None,
    labels: Sequence[str] | None = None,
) -> dict[str, float]:
    """Metrics of predictions against the truth.

    Args:
        task_type: a `TaskType` value (or the enum); anything ending in "regression" is regression.
        y_true, y_pred: labels (compared as strings) or numbers.
        proba: optional (n, k) class probabilities, columns in the order of `labels`.
        labels: class order; defaults to the sorted union of y_true and y_pred.

    Returns:
        classification: accuracy, f1, precision, recall (macro), per-class `precision[c]`,
        `recall[c]`, `f1[c]`, and roc_auc when `proba` is given and the truth has two classes or
        more (binary: of the positive class `labels[1]`; multiclass: one-vs-rest macro).
        regression: mae, rmse, r2.
    """
    import numpy as np
    from sklearn import metrics as skm

    kind = getattr(task_type, "value", task_type)
    if str(kind).endswith("regression"):
        t = np.asarray(y_true, dtype=float)
        p = np.asarray(y_pred, dtype=float)
        return {
            "mae": float(skm.mean_absolute_error(t, p)),
            "rmse": float(np.sqrt(skm.mean_squared_error(t, p))),
            "r2": float(skm.r2_score(t, p)) if len(t) > 1 else float("nan"),
        }

    t = np.asarray([str(v) for v in y_true], dtype=object)
    p = np.asarray([str(v) for v in y_pred], dtype=object)
    labels = [str(c) for c in labels] if labels is not None else sorted(set(t) | set(p))
    out: dict[str, float] = {"accuracy": float(skm.accuracy_score(t, p))}
    prec, rec, f1, _ = skm.precision_recall_fscore_support(t, p, labels=labels, average=None, zero_division=0)
    out["f1"] = float(np.mean(f1))
    out["precision"] = float(np.mean(prec))
    out["recall"] = float(np.mean(rec))
    for i, c in enumerate(labels):
        out[f"precision[{c}]"] = float(prec[i])
        out[f"recall[{c}]"] = float(rec[i])
        out[f"f1[{c}]"] = float(f1[i])
    if proba is not None and len(set(t)) > 1:
        pr = np.asarray(proba, dtype=float)
        if len(labels) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(t == labels[1], pr[:, 1]))
        elif set(t) == set(labels):
            # ovr macro needs every class in the truth; otherwise it is undefined.
            out["roc_auc"] = float(
                skm.roc_auc_score(t, pr, multi_class="ovr", average="macro", labels=labels)
            )
    return out


def _fmt(value: float) -> str:
    if value != 0 and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.4g}"


def check_requirements(
    requirements: Sequence[Requirement], measured: dict[str, float]
) -> list[RequirementResult]:
    """Compare each requirement with `measured[req.key]`.

    A requirement whose key is missing (or NaN) is reported with `met=None` and the note
    "not measured"; an unmet one says by how much it missed ("short by 0.031", "over by 1,200").
    """
    results = []
    for req in requirements:
        value = measured.get(req.key)
        if value is None or value != value:  # NaN
            results.append(
                RequirementResult(
                    name=req.key, op=req.op, target=req.target, achieved=None, met=None, note="not measured"
                )
            )
            continue
        value = float(value)
        met = req.is_met(value)
        if met:
            note = ""
        elif req.op in (">=", ">"):
            note = f"short by {_fmt(req.target - value)}" if value != req.target else "equal, not above"
        else:
            note = f"over by {_fmt(value - req.target)}" if value != req.target else "equal, not below"
        results.append(
            RequirementResult(name=req.key, op=req.op, target=req.target, achieved=value, met=met, note=note)
        )
    return results
