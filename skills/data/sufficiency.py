"""Is there enough labelled data for the task? If not, how many more rows, of which class, and why.

    suff = check_sufficiency(spec, {"great": 12, "other": 18})
    if not suff.enough:
        raise NeedsInput(ask_for_more(suff))    # "I need at least 45 more labelled rows ..."

The rule is the project's one rule (`skills.task.feasibility.labels_needed`): a floor of labelled rows
per class, and enough held-out rows to *show* each metric target (rule of three). The Task agent
applies it to the data as given; the Data agent applies it again after cleaning (duplicates,
empty rows and leaked rows are gone then) and, above the floor, fits a learning curve on the data
itself (`learning_curve_estimate`: a quick probe model, cross-validated) and extrapolates to the
accuracy target: advice for the data card, not a verdict, because the Model agent may train a
stronger model than the probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer_agent.skills.data.label_errors import feature_matrix, probe_model
from trainer_agent.skills.errors import NeedsInput
from trainer_agent.skills.specs import Sufficiency, TaskSpec, TaskType
from trainer_agent.skills.task.feasibility import MIN_ROWS_REGRESSION, labels_needed

if TYPE_CHECKING:
    import pandas as pd


def check_sufficiency(
    spec: TaskSpec,
    label_counts: dict[str, int],
    n_rows: int | None = None,
    test_counts: dict[str, int] | None = None,
) -> Sufficiency:
    """Compare the labelled rows (after cleaning) with what the task and its targets need.

    Args:
        label_counts: labelled rows per class: the training rows when the person gave a test
            file (`test_counts`), else every labelled row (a share of them is held out).
        n_rows: labelled rows in all (regression; defaults to the sum of `label_counts`).
        test_counts: labelled rows per class of the person's test file, if one was given.
    """

    if TaskType(spec.task_type) == TaskType.TABULAR_REGRESSION:
        rows = n_rows if n_rows is not None else sum(label_counts.values())
        more = max(0, MIN_ROWS_REGRESSION - rows)
        reason = (
            f"a regression needs at least {MIN_ROWS_REGRESSION} labelled rows to fit and to test on; "
            f"there are {rows} after cleaning"
        )
        return Sufficiency(enough=more == 0, more_needed=more, reason=reason)
    more_train, more_test, why = labels_needed(label_counts, spec.requirements, test_counts)
    needed = dict(more_train)
    for cls, n in more_test.items():  # rows the test file lacks are labelled rows too
        needed[cls] = needed.get(cls, 0) + n
    have = ", ".join(f"'{c}' has {n}" for c, n in sorted(label_counts.items()))
    reason = " ".join(w.rstrip(".") + "." for w in why).rstrip(".") if why else ""
    return Sufficiency(
        enough=not any(needed.values()),
        per_class=dict(sorted(label_counts.items())),
        needed_per_class={c: n for c, n in sorted(needed.items()) if n},
        more_needed=sum(needed.values()),
        reason=reason or f"every class has enough labelled rows after cleaning ({have})",
    )


def ask_for_more(suff: Sufficiency) -> str:
    """The question for the person: how many more labelled rows, of which class, and why."""
    if suff.enough:
        return ""
    which = ""
    if suff.needed_per_class:
        parts = [f"{n} more '{c}'" for c, n in suff.needed_per_class.items()]
        which = f" ({', '.join(parts)})"
    return (
        f"I need at least {suff.more_needed} more labelled rows{which} after cleaning, before training. "
        f"{suff.reason}. Add them to the data (or give an unlabelled pool to annotate) and run again."
    )


def require_sufficient(suff: Sufficiency) -> None:
    """Raise NeedsInput (exit 2) with the question when there is too little labelled data."""
    if not suff.enough:
        raise NeedsInput(ask_for_more(suff))


@dataclass
class CurveEstimate:
    """What a quick probe's learning curve says of a target: `text` for the person, `reached` (the
    probe meets it already) and `rows_needed` (labelled rows in all where the curve reaches it; None
    when it does not below a million rows, or more rows barely help)."""

    text: str
    reached: bool
    rows_needed: int | None = None

    def more_rows(self, have: int) -> str:
        """'about 4,700' more labelled rows than `have` (two significant digits, as in `text`)."""
        return f"about {_round(max(0, (self.rows_needed or have) - have))}"


def learning_curve_estimate(
    df: pd.DataFrame,
    label: str,
    target: float,
    text: str | None = None,
    features: list[str] | None = None,
    seed: int = 0,
) -> str:
    """`learning_curve`'s text; '' when the data is too small to fit."""
    found = learning_curve(df, label, target, text, features, seed)
    return found.text if found else ""


def learning_curve(
    df: pd.DataFrame,
    label: str,
    target: float,
    text: str | None = None,
    features: list[str] | None = None,
    seed: int = 0,
) -> CurveEstimate | None:
    """Fit cross-validated error against training size (error = b * n^-c) and say at how many
    rows the probe model would reach accuracy `target`; None when the data is too small to fit."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    y = df[label].astype(str).to_numpy()
    counts = {c: int((y == c).sum()) for c in set(y)}
    if len(counts) < 2 or min(counts.values()) < 10 or len(df) < 60:
        return None
    x = feature_matrix(df, label, text, features)
    rng = np.random.default_rng(seed)
    sizes, errors = [], []
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    for fraction in (0.25, 0.5, 1.0):
        wrong = total = 0
        used = 0
        for fit, held in folds.split(x, y):
            take = (
                fit
                if fraction == 1.0
                else rng.choice(fit, max(len(counts) * 2, int(fraction * len(fit))), replace=False)
            )
            if len(set(y[take])) < len(counts):
                continue
            model = probe_model(bool(text), len(counts)).fit(x[take], y[take])
            wrong += int((model.predict(x[held]) != y[held]).sum())
            total += len(held)
            used = len(take)
        if total:
            sizes.append(used)
            errors.append(max(wrong / total, 1e-3))
    if len(sizes) < 3:
        return None
    accuracy = 1 - errors[-1]
    slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
    now = f"a quick probe model reaches accuracy {accuracy:.2f} when trained on {sizes[-1]} rows (3-fold)"
    if accuracy >= target:
        return CurveEstimate(f"{now}, already at the target {target:.2f}", reached=True)
    if slope >= -0.02:
        return CurveEstimate(
            f"{now}, and more rows of the same kind barely help it: {target:.2f} needs better data", False
        )
    rows = math.exp((math.log(1 - target) - intercept) / slope)
    if rows >= 1e6:
        return CurveEstimate(
            f"{now}; on its learning curve {target:.2f} is out of reach below a million rows", False
        )
    in_all = rows * len(df) / sizes[-1]
    return CurveEstimate(
        f"{now}; its learning curve reaches {target:.2f} at about {_round(rows)} rows "
        f"({_round(in_all)} labelled rows in all, before holding out a test set)",
        False,
        math.ceil(in_all),
    )


def _round(n: float) -> str:
    digits = max(0, len(str(int(n))) - 2)
    return f"{int(round(n, -digits)):,}"
