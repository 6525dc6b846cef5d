"""A label change is an experiment: relabel suspects only when that wins on the person's own labels.

    fix = fix_labels(train, "score", found.issues, approve, text="review")
    fix.applied        # the corrections kept (empty when the check or the person said no)
    summary(fix)       # one sentence: with/without scores on the person's labels, the decision

Steps (`fix_labels`):
1. Propose: the suspects of `skills.data.label_errors.find_label_errors` at or above a confidence
   bar, confirmed by a class-balanced probe (out of fold, also at or above the bar: that a class
   is rare is no evidence that its rows are mislabelled, and an unweighted probe on overlapping
   classes is confidently against most of a minority class), at most `MAX_CLASS_SHARE` of the
   rows given any one class (the most confident first).
2. Trial (`relabel_trial`): k-fold (seeded) out-of-fold predictions of the class-balanced probe,
   fitted on the training folds once with the person's labels and once corrected by steps 1-2
   run on those folds alone (nested, so the held-out labels never choose the corrections they
   are scored against), both scored against the held-out folds' labels AS THE PERSON GAVE THEM.
   When label noise is random, accuracy on noisy labels moves with accuracy on the true ones
   (shrunk towards chance), so a real gain shows up there; a correction that only makes the
   labels agree with the probe loses instead. The score is balanced accuracy (mean recall per
   class), so losing a minority class costs.
3. Decide: kept only when the corrected version scores higher in at least `WIN_SHARE` of
   `BOOTSTRAP` paired bootstrap resamples of the rows (a one-sided paired test at 5%: the same
   rows, the same folds, with and without) and by at least `MIN_GAIN`.
4. Ask: `approve("relabel", description)` with the evidence (scores with and without, rows per
   class); a change that failed the check is not asked about and not applied, only listed.

The training file keeps the person's labels; applied corrections travel separately
(data/label_corrections.csv), and the Model agent fits on corrected labels while every score it
reports is computed on the person's (`corrected_labels`, `skills.model.train.train_model`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainer_agent.skills.data.label_errors import (
    DEFAULT_MIN_CONFIDENCE,
    feature_matrix,
    fold_probabilities,
    probe_model,
    suspects_of,
)
from trainer_agent.skills.specs import LabelFixTrial, LabelIssue

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Approve = Callable[[str, str], bool]
# Curated data sets carry a few percent of wrong labels (Northcutt et al. 2021 found 3.3% on
# average across ten benchmark test sets); a probe that disagrees with more of a class than this is
# more likely wrong itself, and a bigger change to a class is the person's call, not a default.
MAX_CLASS_SHARE = 0.05
# Out-of-fold probability of the suggested label; 0.9 rather than 0.8 raised the precision of the
# proposals on planted flips (scripts/bench/label_fixes.py) at some cost in recall.
MIN_CONFIDENCE = DEFAULT_MIN_CONFIDENCE
WIN_SHARE = 0.95  # share of paired bootstrap resamples in which the corrected version must win
MIN_GAIN = 0.0  # balanced accuracy points; any gain the bootstrap trusts is a gain
BOOTSTRAP = 1000
FOLDS = 5
METRIC = "balanced accuracy"


@dataclass
class LabelFix:
    """What became of the suspects: proposed, tried, asked, applied."""

    proposed: list[LabelIssue] = field(default_factory=list)
    applied: list[LabelIssue] = field(default_factory=list)
    trial: LabelFixTrial | None = None
    capped: int = 0  # confirmed suspects over the bar left out by the per-class cap
    unconfirmed: int = 0  # suspects over the bar that the class-balanced probe does not back


def propose(
    issues: Sequence[LabelIssue],
    labels: Sequence[str],
    min_confidence: float = MIN_CONFIDENCE,
    max_share: float = MAX_CLASS_SHARE,
    balanced: np.ndarray | None = None,
    classes: Sequence[str] = (),
) -> tuple[list[LabelIssue], int, int]:
    """The suspects at or above `min_confidence` (and, given `balanced` out-of-fold probabilities
    with columns `classes`, at or above it there too), at most `max_share` of each given class,
    the most confident kept; and how many over the bar the cap and the confirmation left out."""

    counts = Counter(str(v) for v in labels)
    room = {c: int(max_share * n) for c, n in counts.items()}
    column = {c: i for i, c in enumerate(classes)}
    chosen, capped, unconfirmed = [], 0, 0
    for issue in sorted(issues, key=lambda i: -i.confidence):
        if issue.confidence < min_confidence:
            continue
        if balanced is not None and balanced[issue.row, column[issue.suggested]] < min_confidence:
            unconfirmed += 1
        elif room.get(issue.given, 0) <= 0:
            capped += 1
        else:
            room[issue.given] -= 1
            chosen.append(issue)
    return chosen, capped, unconfirmed


def corrected_labels(labels: Any, corrections: Sequence[LabelIssue], where: str = "the training data") -> Any:
    """A copy of `labels` (an array of the person's labels) with `corrections` applied.

    Raises ValueError when a correction does not fit the labels (another row count or label)."""
    import numpy as np

    out = np.asarray([str(v) for v in labels], dtype=object)
    for c in corrections:
        if not 0 <= c.row < len(out) or out[c.row] != c.given:
            raise ValueError(
                f"label correction for row {c.row} ('{c.given}' -> '{c.suggested}') does not match {where}"
            )
        out[c.row] = c.suggested
    return out


def relabel_trial(
    x: Any,
    y: np.ndarray,
    classes: list[str],
    proposed: Sequence[LabelIssue],
    sparse_text: bool,
    min_confidence: float = MIN_CONFIDENCE,
    folds: int = FOLDS,
    seed: int = 0,
) -> LabelFixTrial:
    """Out-of-fold balanced accuracy on the person's labels `y` (features `x`), with and without
    corrections (see the module docstring), and the decision."""
    import numpy as np

    per_class = {c: sum(1 for i in proposed if i.given == c) for c in classes}
    without = fold_probabilities(x, y, y, sparse_text, classes, folds, seed, balanced=True)
    with_ = nested_corrected_probabilities(x, y, sparse_text, classes, min_confidence, folds, seed)
    index = {c: i for i, c in enumerate(classes)}
    given = np.array([index[v] for v in y])
    counts = np.bincount(given, minlength=len(classes))
    weight = len(y) / (len(classes) * counts[given])  # row weights that turn accuracy into balanced
    right_without = without.argmax(axis=1) == given
    right_with = with_.argmax(axis=1) == given
    diff = weight * (right_with.astype(float) - right_without.astype(float))
    score_without = float((weight * right_without).mean())
    score_with = float((weight * right_with).mean())
    wins = paired_win_share(diff, seed)
    gain = score_with - score_without
    keep = gain > MIN_GAIN and wins >= WIN_SHARE
    if keep:
        reason = f"the corrected labels win in {wins:.0%} of {BOOTSTRAP} paired bootstrap resamples"
    elif gain <= MIN_GAIN:
        reason = "the corrected labels do not score higher on your labels"
    else:
        reason = (
            f"the gain is within the noise: higher in only {wins:.0%} of {BOOTSTRAP} paired bootstrap "
            f"resamples (needs {WIN_SHARE:.0%})"
        )
    return LabelFixTrial(
        proposed=len(proposed),
        per_class=per_class,
        metric=METRIC,
        without=round(score_without, 4),
        with_corrections=round(score_with, 4),
        gain=round(gain, 4),
        wins=round(wins, 3),
        folds=folds,
        passed=keep,
        decision="passed the check" if keep else "rejected by the check",
        reason=reason,
    )


def nested_corrected_probabilities(
    x: Any, y: np.ndarray, sparse_text: bool, classes: list[str], min_confidence: float, folds: int, seed: int
) -> np.ndarray:
    """Out-of-fold probabilities of class-balanced probes fitted on the training folds after
    correcting them by the same procedure (confident learning, the confirmation, the bar and the
    cap, on those folds only); the same folds as `fold_probabilities` with the same seed."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(folds, int(min((y == c).sum() for c in classes))))
    index = {c: i for i, c in enumerate(classes)}
    probs = np.zeros((len(y), len(classes)))
    for fit, held in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        x_fit, y_fit = x[fit], y[fit]
        plain = fold_probabilities(x_fit, y_fit, y_fit, sparse_text, classes, folds, seed)
        balanced = fold_probabilities(x_fit, y_fit, y_fit, sparse_text, classes, folds, seed, balanced=True)
        issues = suspects_of(np.array([index[v] for v in y_fit]), plain, classes)
        chosen = propose(issues, list(y_fit), min_confidence, balanced=balanced, classes=classes)[0]
        model = probe_model(sparse_text, len(classes), balanced=True)
        model.fit(x_fit, corrected_labels(y_fit, chosen))
        cols = [classes.index(c) for c in model.classes_]
        probs[np.ix_(held, cols)] = model.predict_proba(x[held])
    return probs


def paired_win_share(diff: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP) -> float:
    """Share of bootstrap resamples of the rows whose mean paired difference is above zero.

    Rows with no difference add nothing to a resample's sum, so only the others are drawn (Poisson
    weights: the bootstrap of a sum, cheap on 100,000 rows)."""
    import numpy as np

    moved = diff[diff != 0]
    if not len(moved):
        return 0.0
    rng = np.random.default_rng(seed)
    sums = rng.poisson(1.0, size=(resamples, len(moved))) @ moved
    return float((sums > 0).mean())


def question(trial: LabelFixTrial, min_confidence: float) -> str:
    """What the person reads before approving: how many rows per class, and the evidence."""
    rows = ", ".join(f"{n} labelled '{c}'" for c, n in trial.per_class.items() if n)
    return (
        f"relabel {trial.proposed} training row{'s' if trial.proposed != 1 else ''} whose labels look "
        f"wrong ({rows}; out-of-fold confidence >= {min_confidence:.2f}, at most "
        f"{MAX_CLASS_SHARE:.0%} of any class). Evidence, {trial.folds}-fold {trial.metric} on your own "
        f"labels: {trial.without:.4f} without the corrections, {trial.with_corrections:.4f} with them "
        f"({trial.gain:+.4f}; {trial.reason}). Your training file keeps your labels; the list is in "
        "data/label_issues.csv"
    )


def fix_labels(
    df: pd.DataFrame,
    label: str,
    issues: Sequence[LabelIssue],
    approve: Approve | None,
    text: str | None = None,
    features: list[str] | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    seed: int = 0,
) -> LabelFix:
    """Propose, try, and (if the trial passes and `approve` says yes) apply corrections.

    `approve(kind, description)` is asked once, only for a change that passed the trial; without an
    approver nothing is applied. `df` is never modified."""
    if not any(i.confidence >= min_confidence for i in issues):
        return LabelFix()
    y = df[label].astype(str).to_numpy()
    classes = sorted(set(y))
    x = feature_matrix(df, label, text, features)
    balanced = fold_probabilities(x, y, y, bool(text), classes, FOLDS, seed, balanced=True)
    proposed, capped, unconfirmed = propose(issues, y, min_confidence, balanced=balanced, classes=classes)
    fix = LabelFix(proposed=proposed, capped=capped, unconfirmed=unconfirmed)
    if not proposed:
        return fix
    fix.trial = relabel_trial(x, y, classes, proposed, bool(text), min_confidence, seed=seed)
    if not fix.trial.passed:
        return fix
    if approve is None:
        fix.trial.decision = "not applied (no one to approve)"
    elif approve("relabel", question(fix.trial, min_confidence)):
        fix.applied = list(proposed)
        fix.trial.decision = "applied"
    else:
        fix.trial.decision = "not approved"
    return fix


def summary(fix: LabelFix) -> str:
    """One sentence on the decision, with the numbers (for the step's line and the data card)."""
    t = fix.trial
    unbacked = f"{fix.unconfirmed} not backed by a class-balanced probe" if fix.unconfirmed else ""
    if t is None:
        return f"none proposed ({unbacked})." if unbacked else "none is confident enough to propose."
    left = [f"{fix.capped} left out by the {MAX_CLASS_SHARE:.0%} per-class cap"] if fix.capped else []
    left += [unbacked] if unbacked else []
    capped = f" ({'; '.join(left)})" if left else ""
    scores = (
        f"{t.folds}-fold {t.metric} on your labels {t.without:.4f} without, "
        f"{t.with_corrections:.4f} with ({t.gain:+.4f})"
    )
    if fix.applied:
        return (
            f"relabelled {len(fix.applied)}{capped}: {scores}; {t.reason} (see data/label_corrections.csv)."
        )
    return (
        f"{t.proposed} proposed{capped}, {t.decision}: {scores}; {t.reason}. Listed in data/label_issues.csv."
    )
