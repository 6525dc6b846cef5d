"""Held-out metrics and the check of measured numbers against the person's requirements.

Metric names follow `skills.specs.METRIC_NAMES`; per-class metrics are keyed like
`recall[other]`, which is what `Requirement.key` produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.specs import Requirement, RequirementResult, TaskType


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
        if req.assumed:
            note = "; ".join(x for x in (f"assumed from '{req.text}'", note) if x)
        results.append(
            RequirementResult(name=req.key, op=req.op, target=req.target, achieved=value, met=met, note=note)
        )
    return results


# ---------------------------------------------------------------- calibration and plots

ECE_BINS = 10


def calibration(
    y_true: Sequence[Any], proba: Any, labels: Sequence[str], bins: int = ECE_BINS
) -> dict[str, Any]:
    """Expected calibration error of the top-class confidence: the row-weighted mean gap between
    confidence and accuracy over `bins` equal-width confidence bins (0 = perfectly calibrated)."""
    import numpy as np

    if proba is None or len(y_true) == 0:
        return {}
    pr = np.asarray(proba, dtype=float)
    conf = pr.max(axis=1)
    hit = np.asarray(labels, dtype=object)[pr.argmax(axis=1)].astype(str) == np.asarray(y_true).astype(str)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece, table = 0.0, []
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        gap = abs(float(conf[mask].mean()) - float(hit[mask].mean()))
        ece += gap * mask.sum() / len(conf)
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": int(mask.sum()),
                "confidence": round(float(conf[mask].mean()), 4),
                "accuracy": round(float(hit[mask].mean()), 4),
            }
        )
    return {"ece": round(float(ece), 4), "bins": bins, "table": table}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def confusion_png(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[str], path: Path, root: Path
) -> str:
    """Draw the confusion matrix (rows: truth, columns: prediction); return the path relative to `root`."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    plt = _pyplot()
    t = np.asarray(y_true).astype(str)
    p = np.asarray(y_pred).astype(str)
    cm = confusion_matrix(t, p, labels=list(labels))
    size = min(12, 2.5 + 0.5 * len(labels))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="black" if cm[i, j] < cm.max() / 2 else "white",
            )
    ax.set_title("Confusion matrix (held-out)")
    return _save(fig, plt, path, root)


def learning_curve_png(curve: Sequence[dict[str, float]], path: Path, root: Path) -> str:
    """Plot every numeric series of `curve` (epochs of a net, or training-set sizes) against its x."""
    plt = _pyplot()
    xkey = "epoch" if "epoch" in curve[0] else "rows"
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in curve[0]:
        if key == xkey:
            continue
        ax.plot([c[xkey] for c in curve], [c.get(key) for c in curve], marker="o", label=key)
    ax.set_xlabel("epoch" if xkey == "epoch" else "training rows")
    ax.legend()
    ax.set_title("Learning curve")
    return _save(fig, plt, path, root)


def _save(fig: Any, plt: Any, path: Path, root: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path.relative_to(root))


def compute(task: TaskType, y_true: Any, pred: Any, proba: Any, labels: list[str]) -> dict[str, float]:
    if task == TaskType.TABULAR_REGRESSION:
        return compute_metrics(task, y_true, pred)
    return compute_metrics(task, y_true, pred, proba, labels)
