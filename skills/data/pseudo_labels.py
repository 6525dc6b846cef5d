"""Pseudo-labels as an experiment, like label fixes: a calibrated teacher labels the pool, a
class-balanced share of its confident answers is selected, and the labels are kept only when
cross-validation on the person's own labels shows a gain.

    chosen = balanced_selection(predicted, confidence, shares, min_confidence=0.9)
    trial = pseudo_label_trial(x_lab, y, x_pool, sparse_text=True, classes=classes, min_confidence=0.9)
    trial.kept      # True only when the whole 95% interval of the gain is above zero

Calibration: a logistic teacher's probabilities on a few hundred rows are off (its top decile was
under-confident on reviews), so the teacher is wrapped in sigmoid calibration fitted by
cross-validation, and `min_confidence` means what it says. Balance: selecting by confidence alone
picks the easy class (22 confident rows out of 2,000, all one class); the selection keeps the
labelled rows' class shares instead, as many rows as the scarcest class allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer_agent.skills.paired_gain import METHOD, corrected_interval, interval_text

FOLDS = 5


@dataclass
class PseudoLabelTrial:
    """Paired k-fold on the labelled rows: a probe fitted on the fold's rows, with and without the
    pseudo-labels its own teacher chose, scored on the fold's held-out rows (the person's labels)."""

    folds: int
    rows: int
    pool_rows: int
    selected: float  # pseudo-labels selected per fold, on average
    before: float
    after: float
    low: float
    high: float

    @property
    def kept(self) -> bool:
        return self.low > 0

    def sentence(self) -> str:

        verdict = (
            "kept"
            if self.kept
            else "not kept: " + ("they make it worse" if self.high <= 0 else "no gain that can be told apart")
        )
        return (
            f"Pseudo-label trial ({self.folds}-fold on your {self.rows} labelled rows, accuracy on your "
            f"labels): {self.before:.4f} without, {self.after:.4f} with about {self.selected:.0f} "
            f"pseudo-labelled rows, gain {interval_text(self.after - self.before, self.low, self.high)}; "
            f"{verdict}."
        )

    def as_dict(self) -> dict[str, Any]:

        return {
            "folds": self.folds,
            "rows": self.rows,
            "pool_rows": self.pool_rows,
            "selected_per_fold": round(self.selected, 1),
            "before": round(self.before, 4),
            "after": round(self.after, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
            "kept": self.kept,
            "method": METHOD,
        }


def calibrated_teacher(sparse_text: bool, y: np.ndarray) -> Any:
    """The probe model, sigmoid-calibrated by 3-fold cross-validation when every class allows it."""
    from sklearn.calibration import CalibratedClassifierCV

    from trainer_agent.skills.data.label_errors import probe_model

    counts = np.unique(y, return_counts=True)[1]
    base = probe_model(sparse_text, len(counts))
    if len(counts) < 2 or counts.min() < 3:
        return base
    return CalibratedClassifierCV(base, method="sigmoid", cv=3)


def balanced_selection(
    predicted: np.ndarray, confidence: np.ndarray, shares: dict[str, float], min_confidence: float
) -> np.ndarray:
    """True for the rows kept: confident answers (>= `min_confidence`), most confident first, in the
    class shares `shares`, as many as the scarcest class allows (none when a class has none)."""
    keep = np.zeros(len(predicted), dtype=bool)
    sure = confidence >= min_confidence
    available = {c: int((sure & (predicted == c)).sum()) for c in shares}
    total = min((available[c] / p for c, p in shares.items() if p > 0), default=0.0)
    for c, p in shares.items():
        rows = np.flatnonzero(sure & (predicted == c))
        take = int(np.floor(total * p + 1e-9))
        keep[rows[np.argsort(-confidence[rows], kind="stable")[:take]]] = True
    return keep


def shares_of(y: np.ndarray) -> dict[str, float]:
    classes, counts = np.unique(y, return_counts=True)
    return {str(c): float(n) / len(y) for c, n in zip(classes, counts, strict=True)}


def pseudo_label_trial(
    x_lab: Any,
    y: np.ndarray,
    x_pool: Any,
    sparse_text: bool,
    classes: list[str],
    min_confidence: float,
    seed: int = 0,
) -> PseudoLabelTrial | None:
    """The paired trial; None when a class has fewer than two labelled rows (no folds)."""
    import scipy.sparse as sp
    from sklearn.model_selection import StratifiedKFold

    from trainer_agent.skills.data.label_errors import probe_model

    smallest = int(np.unique(y, return_counts=True)[1].min())
    k = min(FOLDS, smallest)
    if k < 2 or x_pool.shape[0] == 0:
        return None
    stack = sp.vstack if sp.issparse(x_lab) else np.vstack
    before, after, selected = [], [], []
    for fit, held in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x_lab, y):
        teacher = calibrated_teacher(sparse_text, y[fit]).fit(x_lab[fit], y[fit])
        probs = teacher.predict_proba(x_pool)
        predicted = np.asarray(teacher.classes_)[probs.argmax(axis=1)].astype(str)
        chosen = balanced_selection(predicted, probs.max(axis=1), shares_of(y[fit]), min_confidence)
        plain = probe_model(sparse_text, len(classes)).fit(x_lab[fit], y[fit])
        before.append(float((plain.predict(x_lab[held]) == y[held]).mean()))
        if chosen.any():
            grown = probe_model(sparse_text, len(classes)).fit(
                stack([x_lab[fit], x_pool[chosen]]), np.concatenate([y[fit], predicted[chosen]])
            )
            after.append(float((grown.predict(x_lab[held]) == y[held]).mean()))
        else:
            after.append(before[-1])
        selected.append(int(chosen.sum()))
    _, low, high = corrected_interval(np.array(after) - np.array(before))
    return PseudoLabelTrial(
        folds=k,
        rows=len(y),
        pool_rows=int(x_pool.shape[0]),
        selected=float(np.mean(selected)),
        before=float(np.mean(before)),
        after=float(np.mean(after)),
        low=low,
        high=high,
    )
