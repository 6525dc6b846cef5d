"""Hyperparameter search with Optuna under a time budget or a trial count, pruning bad trials and
stopping once converged (no gain over the last `converge_after` finished trials); the study (an
Optuna journal file) and a JSON summary are saved in the run directory.

    def objective(trial):
        c = trial.suggest_float("C", 0.1, 100, log=True)
        for fold, score in enumerate(fold_scores(c)):
            trial.report(score, fold)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return mean
    result = tune(objective, budget_s=60, out_dir="runs/<id>/models", seed=0)
    result["best_params"], result["trials"]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.search_budget import CONVERGE_AFTER, MIN_GAIN


def tune(
    objective: Callable[[Any], float],
    budget_s: float | None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    n_trials: int | None = None,
    direction: str = "maximize",
    enqueue: Sequence[dict[str, Any]] = (),
    name: str = "tuning",
    converge_after: int | None = CONVERGE_AFTER,
) -> dict[str, Any]:
    """Run an Optuna study until `n_trials` are done, the budget would be overrun, or it converged:
    the last `converge_after` finished trials did not raise the best score by `MIN_GAIN` (None: never).
    `budget_s` None: no clock at all (a count budget; `n_trials` is then required), so the study
    is the same on any load for the same seed. `result["stopped"]` says which ended it.

    The budget is kept by predicting: a new trial starts only when the time spent plus the longest
    trial so far fits in it (Optuna's own `timeout` only stops after the trial that crossed it).
    `enqueue` holds parameter sets tried first (a warm start, e.g. a similar model's settings).
    With `out_dir`, the study is stored in `<out_dir>/<name>.journal` and summarised in `<name>.json`.
    """
    import optuna

    start = time.perf_counter()  # the budget covers setting up the study's storage too
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = None
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        # A journal file: as durable as SQLite for one writer, and without SQLite's slow schema setup.
        journal = Path(out_dir) / f"{name}.journal"
        journal.unlink(missing_ok=True)  # a re-run starts a fresh study
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=direction,  # type: ignore[arg-type]
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )
    for params in enqueue:
        study.enqueue_trial(params, skip_if_exists=True)

    if budget_s is None and n_trials is None:
        raise ValueError("tune() needs a time budget or a number of trials")
    longest = [0.0]
    stopped = ["trials"]
    best: list[float | None] = [None]
    stale = [0]
    sign = 1.0 if direction == "maximize" else -1.0

    def stop_when_done(study: Any, trial: Any) -> None:
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None:
            value = sign * float(trial.value)
            if best[0] is None or value > best[0] + MIN_GAIN:
                best[0], stale[0] = value, 0
            else:
                stale[0] += 1
            if converge_after is not None and stale[0] >= converge_after:
                stopped[0] = "converged"
                study.stop()
                return
        if budget_s is None:
            return
        if trial.datetime_start and trial.datetime_complete:
            longest[0] = max(longest[0], (trial.datetime_complete - trial.datetime_start).total_seconds())
        if time.perf_counter() - start + longest[0] > budget_s:
            stopped[0] = "time"
            study.stop()

    left = None if budget_s is None else budget_s - (time.perf_counter() - start)
    study.optimize(
        objective,
        n_trials=n_trials if left is None or left > 0 else 1,  # always one trial, so there is a result
        timeout=None if left is None else max(left, 0.001),
        callbacks=[stop_when_done],
        gc_after_trial=False,
        catch=(ValueError, ArithmeticError),
    )
    elapsed = time.perf_counter() - start
    if stopped[0] == "trials" and (n_trials is None or len(study.trials) < n_trials):
        stopped[0] = "time"  # Optuna's own timeout ended it
    states = optuna.trial.TrialState
    trials = [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": t.params,
            "seconds": round(t.duration.total_seconds(), 3) if t.duration else None,
        }
        for t in study.trials
    ]
    complete = [t for t in study.trials if t.state == states.COMPLETE]
    result: dict[str, Any] = {
        "budget_s": None if budget_s is None else round(budget_s, 3),
        "max_trials": n_trials,
        "converge_after": converge_after,
        "stopped": stopped[0],
        "elapsed_s": round(elapsed, 3),
        "n_trials": len(study.trials),
        "n_complete": len(complete),
        "n_pruned": sum(t.state == states.PRUNED for t in study.trials),
        "best_value": study.best_value if complete else None,
        "best_params": study.best_params if complete else {},
        "warm_start": list(enqueue),
        "trials": trials,
    }
    if out_dir is not None:
        result["storage"] = str(Path(out_dir) / f"{name}.journal")
        (Path(out_dir) / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result
