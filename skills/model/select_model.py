"""Constraint-aware model selection: filter the catalog's candidates by the limits on parameters,
size and latency before training, try the rest in order of expected quality, stop once the targets
are met and the time budget is spent, and keep the best (the smallest among near-ties).

    sel = select(cands, spec.requirements, evaluate, budget_s=120, sizes={"features": 5000, "classes": 2})
    sel.best.name, sel.table   # the winner, and one row per candidate with its score or why not tried
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from trainer_agent.skills.model.model_catalog import Candidate
from trainer_agent.skills.specs import METRIC_NAMES, Requirement

TIE_TOLERANCE = 0.005  # CV scores this close count as equal: the model with fewer parameters wins
BYTES_PER_PARAM = 4.5  # float32 weights plus the graph around them, for the size estimate


@dataclass
class Scored:
    """What evaluating one candidate gave: a cross-validated score (higher is better), the
    parameter count of the fitted model, and anything the caller wants back (the fitted model)."""

    score: float
    params: int
    detail: dict[str, Any] = field(default_factory=dict)
    payload: Any = None


@dataclass
class Tried:
    name: str
    status: str  # chosen, evaluated, over-limit, filtered, skipped
    reason: str = ""
    score: float | None = None
    params: int | None = None
    estimated_params: int | None = None
    expected_latency_ms: float | None = None
    seconds: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Selection:
    best: Candidate | None
    scored: Scored | None
    tried: list[Tried]
    metric: str
    # every candidate evaluated within the limits with what it gave (fitted model in the payload)
    results: list[tuple[Candidate, Scored]] = field(default_factory=list)

    @property
    def table(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in asdict(t).items() if v not in (None, {}, "")} for t in self.tried]


def upper_limit(requirements: Sequence[Requirement], name: str) -> float | None:
    """The tightest "<"/"<=" bound on `name` (a "<" bound of N allows N - 1 for integer counts)."""
    limit = None
    for req in requirements:
        if req.name != name or req.op not in ("<", "<="):
            continue
        value = req.target - 1 if req.op == "<" and name in ("params", "size_bytes") else req.target
        limit = value if limit is None else min(limit, value)
    return limit


def metric_targets(requirements: Sequence[Requirement]) -> list[Requirement]:
    return [r for r in requirements if r.name in METRIC_NAMES]


def targets_met(requirements: Sequence[Requirement], measured: dict[str, float]) -> bool:
    """True when every metric requirement is measured and met (constraints are checked elsewhere)."""
    for req in metric_targets(requirements):
        value = measured.get(req.key)
        if value is None or value != value or not req.is_met(float(value)):
            return False
    return True


def constraint_reasons(
    cand: Candidate, requirements: Sequence[Requirement], estimated_params: int
) -> list[str]:
    """Why a candidate cannot meet the limits, judged from the catalog before any training."""
    reasons = []
    if (limit := upper_limit(requirements, "params")) is not None and estimated_params > limit:
        reasons.append(f"about {estimated_params:,} parameters, over the limit of {int(limit):,}")
    if (limit := upper_limit(requirements, "size_bytes")) is not None:
        size = int(estimated_params * BYTES_PER_PARAM)
        if size > limit:
            reasons.append(f"about {size:,} bytes, over the limit of {int(limit):,}")
    for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        if (limit := upper_limit(requirements, name)) is not None and cand.latency_ms > limit:
            reasons.append(f"expected {cand.latency_ms:g} ms a request, over the {name} limit of {limit:g}")
    if not cand.exportable:
        reasons.append("it does not export to ONNX (kept for teaching a smaller model)")
    return reasons


def budget_cuts(sel: Selection, budget_s: float) -> str | None:
    """One sentence when the time budget, not the search's own end, cut it short: candidates never
    tried, and nets whose training the clock stopped (their detail's `cut`)."""
    skipped = [t.name for t in sel.tried if t.status == "skipped" and "time budget" in t.reason]
    cut = [f"{t.name} {t.detail['cut']}" for t in sel.tried if t.detail.get("cut")]
    if not skipped and not cut:
        return None
    parts = cut + ([f"{', '.join(skipped)} not tried"] if skipped else [])
    return (
        f"The time budget ({budget_s:.0f} s) cut the search short: {'; '.join(parts)}. A larger "
        "--budget-min gives it the time (on a busy machine a budget in seconds buys less training)."
    )


def select(
    cands: Sequence[Candidate],
    requirements: Sequence[Requirement],
    evaluate: Callable[[Candidate], Scored],
    budget_s: float,
    sizes: dict[str, int] | None = None,
    metric: str = "accuracy",
    tolerance: float = TIE_TOLERANCE,
    clock: Callable[[], float] = time.perf_counter,
    first: Sequence[str] = (),
    last: Sequence[str] = (),
) -> Selection:
    """Try `cands` (filtered by the limits, ordered by expected quality, then cost) with `evaluate`.

    Families named in `first` are tried before the others, then (under a finite budget) the
    cheapest one; those in `last` after all of them (a slow family that must not use up the time
    of the cheap ones). Stops when the budget is spent (at least one candidate is always tried) or
    when the list ends.
    The winner is the highest score; candidates within `tolerance` of it count as ties and the one
    with the fewest parameters is kept. A fitted model over the parameter limit is not kept.
    """
    sizes = sizes or {}
    limit = upper_limit(requirements, "params")
    tried: list[Tried] = []
    feasible: list[tuple[Candidate, int]] = []
    for cand in cands:
        est = cand.estimate_params(**sizes)
        why = constraint_reasons(cand, requirements, est)
        if why:
            tried.append(Tried(cand.name, "filtered", "; ".join(why), estimated_params=est))
        else:
            feasible.append((cand, est))
    # `first` (a warm start's families) go ahead of the usual order; under a time budget the
    # cheapest family goes next, so a quick baseline exists however soon the clock runs out
    cheapest = min(feasible, key=lambda ce: ce[0].cost)[0].name if feasible and budget_s < math.inf else ""
    feasible.sort(
        key=lambda ce: (
            ce[0].name in last,
            ce[0].name not in first,
            ce[0].name != cheapest,
            -ce[0].quality,
            ce[0].cost,
        )
    )
    if not feasible and cands:  # nothing fits the limits: try the smallest, and say so
        smallest = min(
            (c for c in cands if c.exportable), key=lambda c: c.estimate_params(**sizes), default=None
        )
        if smallest is not None:
            feasible = [(smallest, smallest.estimate_params(**sizes))]
            tried = [t for t in tried if t.name != smallest.name]

    start = clock()
    results: list[tuple[Candidate, Scored]] = []
    for cand, est in feasible:
        spent = clock() - start
        if results and spent >= budget_s:
            tried.append(
                Tried(cand.name, "skipped", f"time budget of {budget_s:.0f} s spent", estimated_params=est)
            )
            continue
        t0 = clock()
        scored = evaluate(cand)
        row = Tried(
            cand.name,
            "evaluated",
            score=round(scored.score, 4),
            params=scored.params,
            estimated_params=est,
            expected_latency_ms=cand.latency_ms,
            seconds=round(clock() - t0, 2),
            detail=scored.detail,
        )
        if limit is not None and scored.params > limit:
            row.status, row.reason = "over-limit", f"{scored.params:,} parameters, over {int(limit):,}"
        else:
            results.append((cand, scored))
        tried.append(row)
    if not results:
        return Selection(best=None, scored=None, tried=tried, metric=metric)

    top = max(s.score for _, s in results)
    ties = [(c, s) for c, s in results if s.score >= top - tolerance]
    best, best_scored = min(ties, key=lambda cs: (cs[1].params, -cs[1].score))
    for row in tried:
        if row.name == best.name and row.status == "evaluated":
            row.status = "chosen"
            row.reason = (
                f"best cross-validated {metric}"
                if best_scored.score == top
                else f"within {tolerance} of the best {metric} ({top:.4f}) with fewer parameters"
            )
    return Selection(best=best, scored=best_scored, tried=tried, metric=metric, results=results)
