"""The Model agent's search budget (skills.model.search_budget): sized to the data by default, stated in
the plan, a study that stops once converged, and a count budget that gives the same model however
slow the machine is."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.conftest_models import make_data
from trainer_agent.skills.model.search_budget import (
    CONVERGE_AFTER,
    MAX_DEFAULT_S,
    MIN_DEFAULT_S,
    SearchBudget,
    for_data,
)
from trainer_agent.skills.model.tune import tune
from trainer_agent.skills.specs import TaskSpec, TaskType


def test_the_default_budget_grows_with_the_data_within_bounds() -> None:
    table = TaskType.TABULAR_CLASSIFICATION
    small, large = for_data(table, 150, 4, 3), for_data(table, 20_000, 60, 10)
    assert small.source == large.source == "sized" and not small.given
    assert small.seconds == MIN_DEFAULT_S < large.seconds <= MAX_DEFAULT_S
    assert for_data(table, 5_000, 30, 2).seconds < for_data(table, 5_000, 30, 10).seconds  # a tree per class
    text = [for_data(TaskType.TEXT_CLASSIFICATION, n, 1, 2).seconds for n in (2_000, 8_000, 16_000)]
    assert text == sorted(text) and text[0] < text[-1]
    given = for_data(table, 150, 4, 3, budget_min=2)
    assert given.seconds == 120 and given.given and "--budget-min" in given.describe()
    counts = for_data(table, 150, 4, 3, budget_min=2, max_trials=7)  # counts replace the clock
    assert counts.counted and math.isinf(counts.seconds) and counts.time_limit_s is None
    assert SearchBudget.from_dict(counts.to_dict()) == counts and counts.to_dict()["seconds"] is None
    assert "at most 7 tuning trials" in counts.describe() and "any load" in counts.describe()


def test_the_plan_states_the_budget_the_search_gets() -> None:
    from trainer_agent.skills.task.plan import estimate, make_plan

    spec = TaskSpec(request="classify wine", task_type="tabular_classification", decision="accept")
    est = estimate(spec, n_rows=2_000, n_features=20, n_classes=3)
    budget = SearchBudget.from_dict(est["search_budget"])
    assert budget is not None and budget.source == "sized"
    train = next(p for p in make_plan(spec, est) if p["step"] == "train")
    assert f"{budget.seconds:.0f} s" in train["does"] and f"last {CONVERGE_AFTER} trials" in train["does"]
    counted = estimate(spec, n_rows=2_000, n_features=20, n_classes=3, max_trials=5)
    assert counted["search_budget"]["trials"] == 5 and "any load" in counted["search_budget_note"]


def test_a_study_stops_once_converged_or_at_its_count() -> None:
    flat = tune(lambda trial: trial.suggest_float("x", 0, 1) * 0 + 0.5, budget_s=60, seed=0)
    assert flat["stopped"] == "converged" and flat["n_complete"] == 1 + CONVERGE_AFTER

    def rising(trial) -> float:  # every trial better than the last: never converges
        trial.suggest_float("x", 0, 1)
        return float(trial.number)

    counted = tune(rising, budget_s=None, n_trials=CONVERGE_AFTER + 5, seed=0)
    assert counted["stopped"] == "trials" and counted["n_complete"] == CONVERGE_AFTER + 5
    with pytest.raises(ValueError):
        tune(rising, budget_s=None)


def _fast_forward(monkeypatch: pytest.MonkeyPatch, step_s: float) -> None:
    """A machine so busy that every reading of the clock finds `step_s` more seconds gone."""
    now = [time.perf_counter()]

    def clock() -> float:
        now[0] += step_s
        return now[0]

    monkeypatch.setattr(time, "perf_counter", clock)


def _fit(tmp, monkeypatch, slow: bool, **budget):
    from trainer_agent.skills.model.model_data import load_features
    from trainer_agent.skills.model.model_files import load_model, predict_with, read_model_info
    from trainer_agent.skills.model.train import train_model

    built = make_data("wine_mixed")
    if slow:
        _fast_forward(monkeypatch, 5.0)
    result = train_model(built.spec, built.data, tmp, seed=3, progress=lambda line: None, **budget)
    monkeypatch.undo()
    info = read_model_info(result.model_path)
    x, _ = load_features(TaskType.TABULAR_CLASSIFICATION, info, built.data.test_path)
    return result, predict_with(info, load_model(result.model_path), x)[1]


def test_a_count_budget_gives_the_same_model_on_an_idle_and_a_busy_machine(tmp_path, monkeypatch) -> None:
    idle, idle_proba = _fit(tmp_path / "idle", monkeypatch, slow=False, max_trials=6)
    busy, busy_proba = _fit(tmp_path / "busy", monkeypatch, slow=True, max_trials=6)
    assert idle.family == busy.family and idle.metrics == busy.metrics

    def chosen(r):  # the candidates and their settings and scores, without their timings
        return [{k: v for k, v in c.items() if k != "seconds"} for c in r.candidates]

    assert chosen(idle) == chosen(busy)
    study = "lightgbm-classifier"
    assert idle.tuning[study]["best_params"] == busy.tuning[study]["best_params"]
    assert busy.tuning[study]["stopped"] in ("trials", "converged") and busy.tuning[study]["n_trials"] <= 6
    assert np.array_equal(idle_proba, busy_proba)
    assert not any("cut the search short" in n for n in busy.notes)
    assert any("at most 6 tuning trials" in n for n in busy.notes)
    # the same busy clock with a wall-clock budget: the tuning is cut, and the notes say so
    timed, _ = _fit(tmp_path / "timed", monkeypatch, slow=True, budget_min=1)
    tuned = [n for n in timed.notes if "tuned by Optuna" in n]
    assert tuned and "(time up)" in tuned[0]


def test_the_cli_refuses_a_clock_and_a_count_budget_together(tmp_path) -> None:
    data = tmp_path / "reviews.csv"
    rows = "".join(f"good food {i},great\nbad food {i},other\n" for i in range(20))
    data.write_text("review,score\n" + rows)
    result = run_cli(
        "run", "Classify reviews", "--data", str(data), "--budget-min", "1", "--max-trials", "3",
        "--out", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.code != 0 and "not both" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
