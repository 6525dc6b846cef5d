"""The Model agent's experiments: each `train_model` call with its arguments (`agents.tool_args.
Experiment`) is one. The first trains the run's model in the run directory (the `train` step); a
later one, usually a remedy the Task agent's review asked for (`agents.review`), trains in
`experiments/N/` and replaces the run's model only when its validation score (cross-validated on
the training data, the person's labels; never the test set) is higher. The steps after training
then run again on the new model. `state.json` keeps every experiment: its arguments, the family it
chose, its validation and test scores, and whether it was kept.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from trainer_agent.agents.approvals import ask
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.sandbox_jobs import run_job
from trainer_agent.agents.tool_args import Experiment, shown
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.registry import Registry
from trainer_agent.skills.pipeline import from_step
from trainer_agent.skills.specs import DataReport, TaskSpec, TrainResult

EXPERIMENTS_DIR = "experiments"


def plan_budget(run: Run) -> dict[str, Any] | None:
    """The search budget the plan stated (`skills.model.search_budget.SearchBudget.to_dict`)."""
    return ((run.result("parse") or {}).get("estimate") or {}).get("search_budget")


def plan_families(run: Run) -> list[str]:
    """The families the plan says the search tries."""
    return list(((run.result("parse") or {}).get("estimate") or {}).get("tries") or [])


def train_payload(run: Run, args: Experiment) -> tuple[dict[str, Any], str]:
    """The training job's inputs for experiment `args`, and a note when --max-minutes held it.

    Families equal to the plan's are the default search (it also tries a warm start's family);
    a budget equal to the plan's is the plan's budget (sized to the data, or --budget-min)."""
    opts = run.options
    payload: dict[str, Any] = {"task": run.result("parse"), "data": run.result("data"), "seed": opts.seed}
    budget_min, over = within_run_budget(run)
    payload |= {"model_dir": pretrained_copy(run, opts.model_dir), "max_epochs": opts.max_epochs}
    payload["max_trials"] = args.max_trials if args.max_trials is not None else opts.max_trials
    planned = plan_budget(run)
    planned_s = float(planned["seconds"]) if planned and planned.get("seconds") is not None else None
    if args.budget_s is not None and (planned_s is None or abs(args.budget_s - planned_s) > 0.5):
        chosen = args.budget_s / 60
        held = budget_min is not None and budget_min != opts.budget_min  # by --max-minutes
        budget_min = min(budget_min, chosen) if held and budget_min is not None else chosen
    elif budget_min == opts.budget_min:  # the budget the plan stated, unless --max-minutes held it
        payload["search_budget"] = planned
    payload["budget_min"] = budget_min
    if args.families and sorted(args.families) != sorted(plan_families(run)):
        payload["families"] = list(args.families)
    if args.distill is not None:
        payload["distill"] = args.distill
    return payload, over


def validation_score(result: TrainResult | dict[str, Any]) -> float | None:
    """The chosen model's cross-validated score on the training data (higher is better)."""
    rows = result.candidates if isinstance(result, TrainResult) else result.get("candidates") or []
    scores = [float(r["score"]) for r in rows if r.get("status") == "chosen" and r.get("score") is not None]
    return scores[-1] if scores else None


def _entry(n: int, args: Experiment, result: TrainResult, where: str, kept: bool) -> dict[str, Any]:
    metric = next(iter(result.metrics), None)
    return {
        "n": n,
        "args": shown(args),
        "family": result.family,
        "params": result.params,
        "validation": validation_score(result),
        "test": {k: round(v, 4) for k, v in result.metrics.items() if "[" not in k},
        "metric": metric,
        "seconds": round(result.train_seconds, 1),
        "dir": where,
        "kept": kept,
    }


def record_first(run: Run, args: Experiment, result: TrainResult) -> None:
    """Experiment 1: the run's model, trained in the run directory."""
    run.state["experiments"] = [_entry(1, args, result, ".", kept=True)]
    run.state.pop("review", None)  # a new first model (a changed request): a new review
    run.transcript.event("experiment", **run.state["experiments"][0])


def run_experiment(run: Run, args: Experiment) -> dict[str, Any]:
    """Another experiment once the run has a model: trained in experiments/N/, kept (its files
    moved into the run directory, the steps after training reset) only when its validation score
    beats the current model's. Returns the run's training result afterwards. The same arguments
    twice (a resumed or replayed run) return the recorded outcome instead of training again."""

    done = run.state.setdefault("experiments", [])
    if not any(e["kept"] for e in done):  # a run recorded before experiments were listed
        first = TrainResult.model_validate(run.result("train"))
        done[:] = [_entry(1, Experiment(**run.state["steps"]["train"].get("args", {})), first, ".", True)]
    if any(e["args"] == shown(args) for e in done):
        run.transcript.event("step_skipped", step="train", reason="this experiment already ran")
        return dict(run.result("train"))
    n = len(done) + 1
    out = run.run_dir / EXPERIMENTS_DIR / str(n)
    if out.exists():  # left by an experiment of a request the person changed since
        shutil.rmtree(out)
    out.mkdir(parents=True)
    payload, over = train_payload(run, args)
    payload["run_dir"] = str(out)
    run.transcript.event("experiment_started", n=n, args=shown(args))
    result = TrainResult.model_validate(run_job(run, "train", payload))
    if over:
        result.notes.append(over)
    current = TrainResult.model_validate(run.result("train"))
    new, old = validation_score(result), validation_score(current)
    kept = new is not None and (old is None or new > old)
    best = next(e for e in done if e["kept"])
    if kept:
        result = _promote(run, out, result, best)
        for e in done:
            e["kept"] = False
        why = f" ({args.why})" if args.why else ""
        result.notes.append(
            f"Experiment {n}{why}: {result.family} reached a validation score of {new:.4f} against "
            f"{_fmt(old)} for experiment {best['n']} ({best['family']}); it replaced it."
        )
        _register(run, result)
        run.state["steps"]["train"]["result"] = result.model_dump(mode="json")
        for later in from_step("train")[1:]:  # export, serve, report: redone on the new model
            run.state["steps"].pop(later, None)
    else:
        current.notes.append(
            f"Experiment {n}{f' ({args.why})' if args.why else ''}: {result.family} reached a validation "
            f"score of {_fmt(new)}, not above {_fmt(old)} for experiment {best['n']} ({best['family']}); "
            f"experiment {best['n']}'s model is kept (experiment {n}'s files are in {out})."
        )
        run.state["steps"]["train"]["result"] = current.model_dump(mode="json")
    entry = _entry(n, args, result, "." if kept else str(out.relative_to(run.run_dir)), kept)
    if kept:
        best["dir"] = f"{EXPERIMENTS_DIR}/{best['n']}"
    done.append(entry)
    run.save()
    run.transcript.event("experiment", **entry)
    return dict(run.result("train"))


def _fmt(score: float | None) -> str:
    return "none" if score is None else f"{score:.4f}"


def _promote(run: Run, out: Path, result: TrainResult, best: dict[str, Any]) -> TrainResult:
    """Swap the experiment's files into the run directory; the replaced model's files go to
    experiments/<its number>/."""
    old_home = run.run_dir / EXPERIMENTS_DIR / str(best["n"])
    old_home.mkdir(parents=True, exist_ok=True)
    for entry in sorted(out.iterdir()):
        target = run.run_dir / entry.name
        if target.exists():
            shutil.move(str(target), str(old_home / entry.name))
        shutil.move(str(entry), str(target))
    out.rmdir()
    text = result.model_dump_json().replace(str(out), str(run.run_dir))
    return TrainResult.model_validate_json(text)


def _register(run: Run, result: TrainResult) -> None:

    spec = TaskSpec.model_validate(run.result("parse"))
    Registry().register(spec, DataReport.model_validate(run.result("data")), result)


def within_run_budget(run: Run) -> tuple[float | None, str]:
    """(the Model agent's budget in minutes, a note). With --max-minutes, training estimated to run
    past what is left of it is the `over_budget` approval: approved, it trains as planned; denied,
    the model search is held to the time left (at least 6 s: one candidate is always tried)."""

    opts = run.options
    if not opts.max_seconds:
        return opts.budget_min, ""
    estimate = (run.result("parse") or {}).get("estimate") or {}
    need = float((estimate.get("steps_seconds") or {}).get("train") or 0.0)
    spent = (datetime.now().astimezone() - datetime.fromisoformat(run.state["created"])).total_seconds()
    left = max(0.0, opts.max_seconds - spent)
    if need <= left:
        return opts.budget_min, ""
    what = f"train for about {need:.0f} s, more than the {left:.0f} s left of --max-minutes"
    decision = ask(run, "over_budget", what)
    if decision.granted:
        return (
            opts.budget_min,
            f"Training was expected to go past --max-minutes ({what}); approved ({decision.by}).",
        )
    held = max(0.1, round(0.8 * left / 60, 2))
    return held, (
        f"Training was held to {held:g} min of model search: going past --max-minutes ({what}) was not "
        f"approved ({decision.by})."
    )


def warm_start_for(run: Run) -> dict[str, Any] | None:
    """The registered model this run's training starts from (`--no-warm-start`: none); what the
    train step's reuse key reads too (`agents.step_reuse`)."""

    if not run.options.warm_start:
        return None
    spec = TaskSpec.model_validate(run.result("parse"))
    return Registry().warm_start(spec, DataReport.model_validate(run.result("data")))


def warm_copy(run: Run, warm: dict[str, Any]) -> dict[str, Any]:
    """The registry's warm start, with a torch net's file copied into the run directory (the only
    place sandbox jobs can read); scikit-learn settings travel in the payload itself."""

    src, warm = Path(warm.get("model_path") or ""), {**warm, "model_path": None}
    if src.suffix == ".pt" and src.is_file():
        target = run.run_dir / "warm_start" / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        warm["model_path"] = str(target)
    return warm


HUB_PREFIX = "hub:"


def pretrained_copy(run: Run, model_dir: str | None) -> str | None:
    """A copy of --model-dir inside the run directory, the only place sandbox jobs can read;
    `hub:NAME` downloads NAME from the Hugging Face hub there first (here, outside the sandbox)."""
    if not model_dir:
        return None

    if model_dir.startswith(HUB_PREFIX):
        return _from_hub(run, model_dir.removeprefix(HUB_PREFIX))
    if not Path(model_dir).is_dir():
        raise UserError(f"Model directory {model_dir} does not exist.")
    target = run.run_dir / "pretrained"
    if not target.exists():
        shutil.copytree(model_dir, target)
    return str(target)


def _from_hub(run: Run, name: str) -> str:
    target = run.run_dir / "pretrained"
    if (target / "config.json").is_file():
        return str(target)
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=name, local_dir=target, etag_timeout=10)
    except Exception as err:  # offline, unknown name, gated model: one sentence, never a traceback
        raise UserError(
            f"could not download {name} from the Hugging Face hub ({type(err).__name__}); give a local "
            "directory with --model-dir, or leave it out to train from scratch."
        ) from None
    run.transcript.event("pretrained_downloaded", name=name, path=str(target))
    return str(target)
