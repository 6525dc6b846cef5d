"""Catalog, constraint-aware selection, requirement checks, Optuna under a budget, the registry."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest_models import make_data, params_under, trained
from trainer_agent.skills.model.model_catalog import Candidate, candidates
from trainer_agent.skills.model.model_library import resolve_pretrained
from trainer_agent.skills.model.registry import Registry
from trainer_agent.skills.model.select_model import Scored, select, targets_met, upper_limit
from trainer_agent.skills.model.tune import tune
from trainer_agent.skills.specs import Requirement


def _cand(name: str, params: int, quality: float, latency: float = 1.0, exportable: bool = True) -> Candidate:
    return Candidate(
        name=name,
        framework="sklearn",
        params=params,
        latency_ms=latency,
        quality=quality,
        exportable=exportable,
    )


def test_catalog_lists_families_small_to_large_with_estimates():
    text = candidates("text_classification")
    names = [c.name for c in text]
    assert names[0] == "tfidf-logistic-regression" and "torch-text-cnn" in names and "bert-tiny" in names
    lr = text[0]
    assert lr.estimate_params(features=5000, classes=1) == 5000 * 2 + 1  # idf + weight, one intercept
    assert all(c.framework in ("sklearn", "torch", "hf", "embed") for c in text)
    assert {c.name for c in candidates("tabular_regression") if c.default} >= {"ridge-regression"}
    image = {c.name: c for c in candidates("image_classification")}
    assert sorted(image) == ["pixels-logistic-regression", "resnet18", "small-cnn", "vit-tiny"]
    assert image["pixels-logistic-regression"].estimate_params(features=64, classes=10) == 650
    assert image["vit-tiny"].estimate_params(features=64, classes=10, channels=1) == 69194  # measured


def test_pretrained_models_resolve_offline_to_from_scratch(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAINER_AGENT_MODELS", raising=False)
    bert = [c for c in candidates("text_classification") if c.name == "bert-tiny"][0]
    assert (
        resolve_pretrained(bert) == ("from-scratch", None)
        or resolve_pretrained(bert)[0] == "pretrained-cache"
    )
    (tmp_path / "bert-tiny").mkdir()
    (tmp_path / "bert-tiny" / "config.json").write_text("{}")
    monkeypatch.setenv("TRAINER_AGENT_MODELS", str(tmp_path))
    assert resolve_pretrained(bert) == ("pretrained-local", str(tmp_path / "bert-tiny"))


def test_selection_filters_by_limits_and_keeps_the_smallest_near_tie():
    cands = [
        _cand("big", 5_000_000, 5),
        _cand("slow", 10, 4, latency=80),
        _cand("mid", 50_000, 3),
        _cand("small", 1_000, 2),
        _cand("teacher", 100, 9, exportable=False),
    ]
    scores = {"mid": 0.902, "small": 0.899, "big": 0.95}
    seen = []

    def evaluate(c: Candidate) -> Scored:
        seen.append(c.name)
        return Scored(score=scores[c.name], params=int(c.params))

    reqs = [
        Requirement(name="params", op="<", target=1_000_000),
        Requirement(name="latency_p95_ms", op="<=", target=50),
    ]
    sel = select(cands, reqs, evaluate, budget_s=60)
    assert seen == ["mid", "small"]  # filtered before training; tried by expected quality
    status = {t.name: t.status for t in sel.tried}
    assert status == {
        "big": "filtered",
        "slow": "filtered",
        "teacher": "filtered",
        "mid": "evaluated",
        "small": "chosen",
    }
    assert sel.best.name == "small"  # within the tie tolerance of "mid", with fewer parameters
    assert "fewer parameters" in [t for t in sel.tried if t.name == "small"][0].reason


def test_selection_stops_when_the_budget_is_spent_and_rejects_fitted_models_over_the_limit():
    clock = iter(range(0, 1000, 10))
    cands = [_cand("a", 10, 3), _cand("b", 10, 2), _cand("c", 10, 1)]
    sel = select(cands, [], lambda c: Scored(0.5, 10), budget_s=45, clock=lambda: float(next(clock)))
    assert [t.status for t in sel.tried] == ["chosen", "evaluated", "skipped"]
    over = select([_cand("a", 10, 3)], params_under(100), lambda c: Scored(0.9, 500), budget_s=10)
    assert over.best is None and over.tried[0].status == "over-limit"


def test_a_search_cut_by_its_budget_says_what_was_cut():
    from trainer_agent.skills.model.select_model import budget_cuts

    clock = iter(range(0, 1000, 10))
    cands = [_cand("a", 10, 3), _cand("b", 10, 2), _cand("c", 10, 1)]

    def evaluate(c):  # "a" is a net the clock stopped; "b" ran to its end
        return Scored(
            0.5, 10, detail={"cut": "stopped by its 15 s time share after 3 epochs"} if c.name == "a" else {}
        )

    sel = select(cands, [], evaluate, budget_s=45, clock=lambda: float(next(clock)))
    note = budget_cuts(sel, 45)
    assert note is not None and note.startswith("The time budget (45 s) cut the search short: ")
    assert "a stopped by its 15 s time share after 3 epochs; c not tried." in note and "--budget-min" in note
    whole = select(cands, [], lambda c: Scored(0.5, 10), budget_s=1e9, clock=lambda: 0.0)
    assert budget_cuts(whole, 1e9) is None  # every candidate tried, none cut: nothing to say


def test_the_epoch_loop_marks_a_stop_by_the_clock_and_only_that():
    import torch

    from trainer_agent.skills.model.early_stopping import time_cut, train_epochs

    def run(limit, scores, epochs=5, patience=2):
        net, it = torch.nn.Linear(2, 1), iter(scores)
        return train_epochs(net, epochs, lambda: 0.5, lambda: next(it), patience=patience, time_limit_s=limit)

    cut = run(0.0, [0.6, 0.7])  # the clock ends it after the first epoch, accuracy still rising
    assert len(cut) == 1 and time_cut(cut) == (
        "stopped by its 0 s time share after 1 epoch while validation accuracy was still improving"
    )
    assert time_cut(run(None, [0.6, 0.7, 0.5, 0.5, 0.5])) is None  # early stopping: its own end
    assert time_cut(run(None, [0.6, 0.7, 0.8, 0.9, 0.95])) is None  # the epoch cap
    assert time_cut(run(3600.0, [0.6, 0.7, 0.8, 0.9, 0.95])) is None  # a limit never reached


def test_requirement_checks():
    reqs = [
        Requirement(name="accuracy", op=">=", target=0.8),
        Requirement(name="recall", op=">=", target=0.5, label="other"),
        Requirement(name="params", op="<", target=1_000_000),
    ]
    assert targets_met(reqs, {"accuracy": 0.81, "recall[other]": 0.6})
    assert not targets_met(reqs, {"accuracy": 0.81})  # unmeasured is not met
    assert not targets_met(reqs, {"accuracy": 0.79, "recall[other]": 0.6})
    assert upper_limit(reqs, "params") == 999_999 and upper_limit(reqs, "size_bytes") is None


def test_optuna_respects_its_time_budget(tmp_path):
    import optuna

    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        for step in range(3):
            time.sleep(0.05)
            trial.report(-abs(x - 1) - step * 0.01, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return -abs(x - 1)

    start = time.perf_counter()
    result = tune(objective, budget_s=4.0, out_dir=tmp_path, seed=0, enqueue=[{"x": 1.0}])
    elapsed = time.perf_counter() - start
    assert elapsed < 4.0 + 0.5  # a trial starts only if it fits (each takes ~0.15 s)
    assert result["elapsed_s"] <= 4.0 + 0.5 and result["n_trials"] >= 3
    assert result["best_params"] == {"x": 1.0}  # the warm start was tried first and is optimal
    saved = json.loads((tmp_path / "tuning.json").read_text())
    assert saved["n_trials"] == len(saved["trials"]) == result["n_trials"]
    journal = optuna.storages.journal.JournalFileBackend(str(tmp_path / "tuning.journal"))
    loaded = optuna.load_study(study_name="tuning", storage=optuna.storages.JournalStorage(journal))
    assert len(loaded.trials) == result["n_trials"]


def test_budgeted_text_search_tunes_with_optuna_and_tries_more_families(tmp_path):
    b = make_data("fine_foods")
    start = time.perf_counter()
    r = __import__("trainer_agent.skills.model.train", fromlist=["train_model"]).train_model(
        b.spec,
        b.data,
        tmp_path,
        budget_min=0.15,
        families=["tfidf-logistic-regression", "tfidf-complement-nb"],
        progress=lambda s: None,
    )
    assert time.perf_counter() - start < 9 + 20  # 9 s of search, then fitting and evaluation
    assert set(r.tuning) == {"tfidf-logistic-regression", "tfidf-complement-nb"}
    for family, study in r.tuning.items():
        assert study["elapsed_s"] <= study["budget_s"] + 3 and study["n_trials"] >= 1
        assert (tmp_path / "models" / f"tuning-{family}.json").is_file()
    singles = {"tfidf-logistic-regression", "tfidf-complement-nb"}
    assert {c["name"] for c in r.candidates} == singles | {"soft-voting-ensemble"}  # tried in a budget
    assert r.family in singles | {"soft-voting-ensemble"}


def test_registry_reuses_a_model_that_meets_the_request(tmp_path):
    b = trained("iris")
    reg = Registry(tmp_path / "models.db")
    strict = b.spec.model_copy(update={"requirements": [Requirement(name="accuracy", op=">=", target=0.999)]})
    model_id = reg.register(b.spec, b.data, b.train)
    assert reg.reuse(strict, b.data, tmp_path / "strict") is None  # registered, but not good enough
    hit = reg.reuse(b.spec, b.data, tmp_path / "run")
    assert hit is not None and hit.reused_from == model_id and hit.source == "registry"
    assert hit.metrics["accuracy"] == pytest.approx(b.train.metrics["accuracy"])  # re-evaluated
    assert hit.tuning["time_saved_s"] >= 0 and "saved" in hit.notes[0]
    assert (tmp_path / "run" / "models" / "model.json").is_file()
    other = make_data("wine_mixed")
    assert reg.reuse(other.spec, other.data, tmp_path / "other") is None  # other data: no reuse
    assert reg.warm_start(b.spec, b.data) is None  # the same data: reused or not, never started from
    fewer = b.data.model_copy(update={"feature_columns": b.data.feature_columns[:-1]})  # other data
    assert reg.warm_start(b.spec, fewer)["family"] == b.train.family
