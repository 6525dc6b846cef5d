"""The interval of a gain measured on paired cross-validation folds: one place for the rule every
"keep it only when it helps" experiment uses (distillation, pseudo-labels).

    mean, low, high = corrected_interval([0.01, 0.03, -0.01, 0.02, 0.00])
    kept = low > 0    # the whole 95% interval is a gain

k-fold training sets overlap, so the plain variance of the fold differences is too small; the
Nadeau-Bengio (2003) correction scales it by 1/k + n_test/n_train = 1/k + 1/(k - 1).
"""

from __future__ import annotations

from collections.abc import Sequence

METHOD = "paired k-fold cross-validation, 95% Nadeau-Bengio corrected t interval of the gain"


def corrected_interval(diffs: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the per-fold differences `diffs` (after minus before), k >= 2 folds."""
    import numpy as np
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    k = len(d)
    if k < 2:
        raise ValueError("an interval needs two folds or more")
    var = float(d.var(ddof=1)) * (1 / k + 1 / (k - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, k - 1)) * var**0.5
    mean = float(d.mean())
    return mean, mean - half, mean + half


def interval_text(mean: float, low: float, high: float) -> str:
    return f"{mean:+.4f}, 95% interval {low:+.4f} to {high:+.4f}"
