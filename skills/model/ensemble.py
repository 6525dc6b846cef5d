"""Soft-voting ensembles of the best scikit-learn candidates, tried after `skills.model.select_model.select`.

The class probabilities (regression: predictions) of the top 2 and top 3 fitted candidates are
averaged on the same cross-validation folds the members were scored on, and the ensemble is kept
only when it beats the best single model by more than `TIE_TOLERANCE`, does so in at least 95% of
bootstrap resamples of the out-of-fold predictions (a paired check: small gains on a few hundred
rows are mostly noise and did not hold on held-out data), and its summed parameters, estimated
size and summed expected latency stay within the requirement limits. The ensemble is a
scikit-learn VotingClassifier(voting="soft") / VotingRegressor of the already fitted member
pipelines, which skl2onnx converts (each member keeps its own preprocessing and vocabulary).
The out-of-fold outputs come from `skills.model.cross_val.cross_val_outputs`.

    outs = {name: cross_val_outputs(est, x, y, cv, "accuracy", classes)[1] for name, est in ...}
    outcome = consider(sel, spec.requirements, lambda c, s: outs.get(c.name), y, "accuracy", classes,
                       budget_given=False)
    outcome.model, outcome.row, outcome.note   # the VotingClassifier or None, the table row, why
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainer_agent.skills.model.cross_val import FoldOutputs, fold_score
from trainer_agent.skills.model.model_catalog import Candidate
from trainer_agent.skills.model.select_model import (
    TIE_TOLERANCE,
    Scored,
    Selection,
    Tried,
    constraint_reasons,
)
from trainer_agent.skills.specs import Requirement

NAME = "soft-voting-ensemble"
MAX_MEMBERS = 3
BOOTSTRAP = 300  # resamples of the out-of-fold outputs for the paired check
CONFIDENCE = 0.95  # share of resamples in which the ensemble must beat the best single model


@dataclass
class Outcome:
    model: Any = None  # the fitted ensemble when it is kept, else None
    row: Tried | None = None  # its row in the candidates table (None when not tried at all)
    note: str = ""
    score: float | None = None
    members: list[str] = field(default_factory=list)
    params: int = 0


def win_rate(scoring: str, y: Any, ours: Any, theirs: Any, classes: Any = None, seed: int = 0) -> float:
    """The share of bootstrap resamples of the rows in which `ours` scores strictly higher than
    `theirs` (both out-of-fold outputs of the same rows): a paired check that a cross-validated
    gain is more than the noise of which rows happened to be in the data."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, ours, theirs = np.asarray(y), np.asarray(ours), np.asarray(theirs)
    wins = 0
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, len(y), len(y))
        wins += fold_score(scoring, y[idx], ours[idx], classes) > fold_score(
            scoring, y[idx], theirs[idx], classes
        )
    return wins / BOOTSTRAP


def build(members: Sequence[tuple[str, Any]], classes: Any = None) -> Any:
    """A fitted VotingClassifier (soft) / VotingRegressor of already fitted models, without refitting.

    `clone(ensemble).fit(x, y)` refits every member (used for learning curves)."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    named = [(name, model) for name, model in members]
    model: Any
    if classes is None:
        model = VotingRegressor(named)
    else:
        # flatten_transform=False: skl2onnx converts only this form
        model = VotingClassifier(named, voting="soft", flatten_transform=False)
        model.le_ = LabelEncoder().fit(list(classes))
        model.classes_ = model.le_.classes_
    model.estimators_ = [m for _, m in named]
    model.named_estimators_ = Bunch(**dict(named))
    return model


def why_not_try(sel: Selection, budget_given: bool) -> str:
    """Why no ensemble is tried ("" when one is): fewer than two fitted scikit-learn candidates, or
    no budget and fewer than two default families evaluated."""
    sklearn = [c for c, _ in sel.results if c.framework == "sklearn"]
    if len(sklearn) < 2:
        return "fewer than two scikit-learn candidates were fitted within the limits"
    if not budget_given and sum(c.default for c in sklearn) < 2:
        return "without a time budget only one default family is tried"
    return ""


def consider(
    sel: Selection,
    requirements: Sequence[Requirement],
    outputs: Callable[[Candidate, Scored], FoldOutputs | None],
    y: Any,
    scoring: str,
    classes: Any,
    budget_given: bool,
    say: Callable[[str], None] = lambda _: None,
    fitted: Callable[[Scored], Any] = lambda s: s.payload,
    tolerance: float = TIE_TOLERANCE,
    confidence: float | None = None,
) -> Outcome:
    """Try soft voting of the top 2 and 3 scikit-learn candidates of `sel` (see the module docstring).

    `outputs(cand, scored)` gives a member's out-of-fold outputs on the folds it was scored on;
    it is called only for members of an ensemble that is within the limits. `fitted(scored)` is the
    member's model fitted on all the training rows.
    """
    import numpy as np

    confidence = CONFIDENCE if confidence is None else confidence
    if why := why_not_try(sel, budget_given):
        limited = [t.name for t in sel.tried if t.status in ("filtered", "over-limit")]
        if not limited:
            return Outcome()
        return Outcome(
            note=f"No soft-voting ensemble was tried: {why} ({', '.join(limited)} broke the limits)."
        )
    start = time.perf_counter()
    ranked = sorted(
        ((c, s) for c, s in sel.results if c.framework == "sklearn"), key=lambda cs: -cs[1].score
    )[:MAX_MEMBERS]
    best_single = max(s.score for _, s in sel.results)
    y = np.asarray(y)
    cache: dict[str, FoldOutputs | None] = {}
    tried: list[tuple[float, list[tuple[Candidate, Scored]], int, float, Any]] = []
    over: list[str] = []
    for k in range(2, len(ranked) + 1):
        members = ranked[:k]
        params = sum(s.params for _, s in members)
        latency = sum(c.latency_ms for c, _ in members)
        joined = " + ".join(c.name for c, _ in members)
        probe = Candidate(NAME, "sklearn", params, latency_ms=latency, quality=0)
        reasons = constraint_reasons(probe, requirements, params)
        if reasons:
            over.append(f"{joined}: " + "; ".join(reasons))
            continue
        for c, s in members:
            if c.name not in cache:
                cache[c.name] = outputs(c, s)
        outs = [cache[c.name] for c, _ in members]
        if any(o is None for o in outs):
            continue
        folds = outs[0].folds  # type: ignore[union-attr]
        mean = np.mean([o.output for o in outs], axis=0)  # type: ignore[union-attr]
        score = float(np.mean([fold_score(scoring, y[f], mean[f], classes) for f in folds]))
        tried.append((score, members, params, latency, mean))
    # The best single model's own out-of-fold outputs, for the paired check (None when the best is
    # not a scikit-learn model, whose outputs are not kept: then only the tolerance applies).
    top = ranked[0]
    paired = cache.get(top[0].name) if top[1].score == best_single else None
    seconds = round(time.perf_counter() - start, 2)
    if not tried:
        if not over:
            return Outcome(note="No ensemble was scored: the members' cross-validation outputs were missing.")
        reason = "over the limits (" + " | ".join(over) + ")"
        return Outcome(
            row=Tried(NAME, "over-limit", reason, seconds=seconds),
            note=(
                "A soft-voting ensemble of the top models was not used: summed over its members "
                f"it is {reason}."
            ),
        )
    score, members, params, latency, mean = max(tried, key=lambda t: (t[0], -len(t[1])))
    names = [c.name for c, _ in members]
    detail = {"members": names, "voting": "soft" if classes is not None else "mean"}
    if len(tried) > 1 or over:
        detail["also_tried"] = "; ".join(
            [f"{' + '.join(c.name for c, _ in m)}: {s:.4f}" for s, m, _, _, _ in tried if m is not members]
            + [f"{o} (over the limits)" for o in over]
        )
    row = Tried(
        NAME,
        "evaluated",
        score=round(score, 4),
        params=params,
        estimated_params=params,
        expected_latency_ms=round(latency, 3),
        seconds=seconds,
        detail=detail,
    )
    gain = score - best_single
    what = f"soft voting of {' + '.join(names)} (cross-validated {scoring} {score:.4f}"
    say(f"{NAME} of {', '.join(names)}: {scoring} {score:.4f} (cv) vs best single {best_single:.4f}")
    wins, why = None, ""  # why: the ensemble is not used
    if gain > tolerance and paired is not None:
        wins = win_rate(scoring, y, mean, paired.output, classes)
        row.detail["bootstrap_wins"] = round(wins, 3)
        row.seconds = round(time.perf_counter() - start, 2)
    if wins is not None and wins < confidence:
        row.reason = (
            f"better by {gain:.4f} in cross-validation, but only in {wins:.0%} of {BOOTSTRAP} bootstrap "
            f"resamples of the rows (needs {confidence:.0%})"
        )
        why = (
            f"{gain:+.4f}); the gain is within the noise: the ensemble scores higher in only {wins:.0%} of "
            f"{BOOTSTRAP} bootstrap resamples of the out-of-fold predictions (needs {confidence:.0%}), "
            "so it would add parameters and latency for a gain that may not hold on new data."
        )
    elif gain <= tolerance:
        row.reason = f"not better than the best single model by more than {tolerance} ({best_single:.4f})"
        why = (
            f"a gain of {gain:+.4f}, not more than {tolerance}); it would add parameters and latency "
            "for nothing."
        )
    if why:
        note = f"Not used: {what} against {best_single:.4f} for the best single model, {why}"
        return Outcome(row=row, score=score, members=names, params=params, note=note)
    model = build([(c.name, fitted(s)) for c, s in members], classes)
    row.status = "chosen"
    sure = f"; higher in {wins:.0%} of {BOOTSTRAP} bootstrap resamples" if wins is not None else ""
    row.reason = f"beats the best single model ({best_single:.4f}) by {gain:.4f}{sure}, within the limits"
    return Outcome(
        model=model,
        row=row,
        score=score,
        members=names,
        params=params,
        note=(
            f"Chosen: {what} against {best_single:.4f} for the best single model, +{gain:.4f}{sure}); "
            f"{params:,} parameters in all and about {latency:g} ms a request expected, within the limits."
        ),
    )


def record(sel: Selection, outcome: Outcome, notes: list[str]) -> None:
    """Put the ensemble's row in `sel`'s candidates table and its note in `notes`; when it is kept,
    the single model chosen before becomes an evaluated one."""
    if outcome.row is None:
        if outcome.note:
            notes.append(outcome.note)
        return
    if outcome.model is not None:
        for row in sel.tried:
            if row.status == "chosen":
                row.status = "evaluated"
                row.reason = f"best single model; the {NAME} scored higher"
    sel.tried.append(outcome.row)
    if outcome.note:
        notes.append(outcome.note)
