"""The Task agent's review of each experiment (the paper's review loop).

After the Model agent reports, the Task agent compares every metric requirement with what the
model measured on the held-out test set. When one is unmet it picks a remedy, a bounded number of
rounds (`MAX_ROUNDS`): another experiment with every exportable family, a larger budget and, under
a size limit, distillation from a teacher (`agents.experiments` keeps it only when it validates
better). Without a person (`run`) the remedies run within `--max-minutes`, then the work goes on
and the report explains what was tried, the best reached, and what would be needed (the Data
agent's learning-curve estimate); the run ends with exit 3. In a chat the person negotiates
instead: try the remedy, give more data, change the target, or accept what was reached.

State: `run.state["review"]` = {"reviewed": experiments reviewed, "rounds": [{round, unmet,
args, ran}], "accepted": the person accepted what was reached}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trainer_agent.agents.experiments import plan_budget
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.tool_args import Experiment, shown
from trainer_agent.skills.model.model_catalog import candidates, pretrained_only
from trainer_agent.skills.model.model_library import resolve_pretrained
from trainer_agent.skills.report import measured_values
from trainer_agent.skills.specs import DataReport, Requirement, TaskSpec, TrainResult

MAX_ROUNDS = 2  # remedy experiments a run tries on its own
GROWTH = (2.0, 4.0)  # each round's budget, as a multiple of the plan's
MIN_BUDGET_S = 20.0  # a remedy needs at least this much of --max-minutes left
SHARE_OF_LEFT = 0.5  # a remedy may use this share of what is left of --max-minutes


def state(run: Run) -> dict[str, Any]:
    review: dict[str, Any] = run.state.setdefault("review", {"reviewed": 0, "rounds": []})
    return review


def unmet(run: Run) -> list[tuple[Requirement, float | None]]:
    """The metric requirements the current model misses on the test set, with the value measured."""

    spec = TaskSpec.model_validate(run.result("parse"))
    values = measured_values(TrainResult.model_validate(run.result("train")), None, None)
    missed = []
    for req in spec.requirements:
        if req.kind != "metric":
            continue
        value = values.get(req.key)
        if value is None or not req.is_met(value):
            missed.append((req, value))
    return missed


def describe(missed: list[tuple[Requirement, float | None]]) -> str:
    return "; ".join(
        f"{req.key} {'not measured' if value is None else f'{value:.4f}'} against the target "
        f"{req.op} {req.target:g}"
        for req, value in missed
    )


def _left_s(run: Run) -> float | None:
    """Seconds left of --max-minutes (None: no limit)."""

    if not run.options.max_seconds:
        return None
    spent = (datetime.now().astimezone() - datetime.fromisoformat(run.state["created"])).total_seconds()
    return max(0.0, run.options.max_seconds - spent)


def _all_families(run: Run) -> list[str]:
    """Every exportable model family of the task that can run here, in the plan's order."""

    spec = TaskSpec.model_validate(run.result("parse"))
    names = []
    for c in candidates(spec.task_type):
        if c.role != "model" or not c.exportable:
            continue
        if pretrained_only(c) and resolve_pretrained(c)[1] is None:
            continue
        names.append(c.name)
    return names


def proposal(run: Run) -> tuple[Experiment | None, str]:
    """The next remedy experiment and a sentence saying what it is, or (None, why there is none)."""

    rounds = state(run)["rounds"]
    n = len(rounds) + 1
    extra = int(state(run).get("granted", 0))
    if n > MAX_ROUNDS + extra:
        return None, f"the {MAX_ROUNDS + extra} remedy rounds a run tries on its own are spent"
    planned = plan_budget(run) or {}
    base = float(planned.get("seconds") or 60.0)
    growth = GROWTH[min(n, len(GROWTH)) - 1] * (2 ** max(0, n - len(GROWTH)))
    budget = round(base * growth, 1)
    left = _left_s(run)
    if left is not None:
        budget = min(budget, round(SHARE_OF_LEFT * left, 1))
        if budget < MIN_BUDGET_S:
            return None, f"only {left:.0f} s of --max-minutes are left"
    spec = TaskSpec.model_validate(run.result("parse"))
    limited = any(r.name in ("params", "size_bytes") for r in spec.requirements)
    families = _all_families(run)
    why = f"remedy {n}: every exportable family, {growth:g}x the plan's search budget ({budget:g} s)" + (
        ", distilling a teacher into a student within the size limit" if limited else ""
    )
    args = Experiment(families=families or None, budget_s=budget, distill=True if limited else None, why=why)
    if any(e["args"] == shown(args) for e in run.state.get("experiments", [])):
        return None, "the remedy it would try next has already run"
    return args, why


def pending(run: Run) -> dict[str, Any] | None:
    """The arguments of a remedy the Task agent asked for that the Model agent has not run yet."""
    rounds = state(run)["rounds"]
    if rounds and not rounds[-1].get("ran"):
        ran = {str(e["args"]) for e in run.state.get("experiments", [])}
        if str(rounds[-1]["args"]) in ran:
            rounds[-1]["ran"] = True
            run.save()
            return None
        args: dict[str, Any] = rounds[-1]["args"]
        return args
    return None


def needed(run: Run) -> str:
    """What would be needed, as far as the run knows: the Data agent's learning-curve estimate."""
    data = DataReport.model_validate(run.result("data")) if run.done("data") else None
    estimate = data.sufficiency.estimate if data is not None and data.sufficiency is not None else ""
    return estimate or "no learning-curve estimate was possible on this data"


def task_turn(run: Run, person: bool) -> str | None:
    """The Task agent's review after an experiment: None when there is nothing (new) to review or
    every metric target is met; else the chat text: a remedy for the Model agent (ends with
    `NEXT: model_agent`), the choices for the person (`NEXT: user`), or, with no remedy left, the
    explanation before the work goes on (the caller adds the hand-off)."""
    review = state(run)
    count = len(run.state.get("experiments", []))
    if run.done("train") and (remedy := pending(run)) is not None:  # e.g. a run resumed mid-remedy
        rounds = review["rounds"]
        rounds[-1]["handed"] = int(rounds[-1].get("handed", 0)) + 1
        if rounds[-1]["handed"] <= 2:
            run.save()
            return (
                f"Review: {remedy.get('why') or 'the remedy asked for'} is still to run.\nNEXT: model_agent"
            )
        rounds[-1]["ran"] = True  # asked twice and never run: the Model agent could not
        run.save()
    if not run.done("train") or count <= review["reviewed"] or review.get("accepted"):
        return None
    review["reviewed"] = count
    missed = unmet(run)
    if not missed:
        run.save()
        return None
    args, what = proposal(run)
    tried = _tried(run)
    if person:
        review["offer"] = shown(args) if args is not None else None
        run.save()
        options = [
            "'try' to run " + what if args is not None else None,
            "a path to more labelled data",
            "a change to the target (e.g. 'accuracy at least 0.7')",
            "'go on' to accept what was reached",
            "'quit'",
        ]
        return (
            f"Review: {describe(missed)}. Tried so far: {tried}. {_need_line(run)}\n"
            "Type " + ", ".join(o for o in options if o) + ".\nNEXT: user"
        )
    if args is None:
        review["final"] = f"{describe(missed)} after {tried}; no remedy left ({what}). {_need_line(run)}"
        run.save()
        return f"Review: {review['final']}. Going on with the best model reached."
    review["rounds"].append(
        {"round": len(review["rounds"]) + 1, "unmet": describe(missed), "args": shown(args), "handed": 1}
    )
    run.save()
    run.transcript.event("review", round=len(review["rounds"]), unmet=describe(missed), remedy=shown(args))
    return f"Review: {describe(missed)}. {what[:1].upper() + what[1:]}.\nNEXT: model_agent"


def accept_offer(run: Run) -> bool:
    """The person typed 'try': the remedy offered becomes the next round (granted beyond
    `MAX_ROUNDS` when the run's own rounds are spent). False when none was offered."""
    review = state(run)
    offer = review.pop("offer", None)
    if offer is None:
        args, _ = proposal(run)
        if args is None:
            review["granted"] = int(review.get("granted", 0)) + 1
            args, _ = proposal(run)
        offer = shown(args) if args is not None else None
    if offer is None:
        run.save()
        return False
    review["rounds"].append(
        {"round": len(review["rounds"]) + 1, "unmet": describe(unmet(run)), "args": offer, "handed": 1}
    )
    run.save()
    run.transcript.event("review", round=len(review["rounds"]), remedy=offer, by="person")
    return True


def accept_reached(run: Run) -> None:
    state(run)["accepted"] = True
    run.save()


def _tried(run: Run) -> str:
    exps = run.state.get("experiments", [])
    parts = [
        f"experiment {e['n']} {e['family']} (validation {e['validation']:.4f})"
        if e.get("validation") is not None
        else f"experiment {e['n']} {e['family']}"
        for e in exps
    ]
    return ", ".join(parts) or "nothing yet"


def _need_line(run: Run) -> str:
    return f"What would help: {needed(run)}"
