"""Warm start from the model library (skills.model.registry, skills.model.warm_start), wired through the Model
agent's train tool: a second run on similar data starts from the first run's model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FINE_FOODS
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.agents.tool_args import Experiment
from trainer_agent.agents.tools import _train
from trainer_agent.skills.model.warm_start import around
from trainer_agent.skills.specs import DataReport, TaskSpec, TrainResult


def _run(tmp: Path, name: str, seed: int, relabel: dict[str, str] | None = None) -> Run:
    """A run with the parse and data steps done: 400 fine_foods reviews sampled with `seed`."""
    folder = tmp / name
    folder.mkdir()
    train = pd.read_csv(FINE_FOODS / "train.csv").sample(n=400, random_state=seed)
    test = pd.read_csv(FINE_FOODS / "test.csv").sample(n=150, random_state=seed)
    if relabel:
        train["score"], test["score"] = train["score"].map(relabel), test["score"].map(relabel)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    spec = TaskSpec(
        request="Classify the review's score.",
        task_type="text_classification",
        label_column="score",
        text_column="review",
    )
    data = DataReport(
        train_path=str(folder / "train.csv"),
        test_path=str(folder / "test.csv"),
        test_from="user",
        n_train=len(train),
        n_test=len(test),
        columns=list(train.columns),
        label_column="score",
        text_column="review",
        label_counts=train["score"].value_counts().to_dict(),
    )
    run = Run.create(folder, RunOptions(request=spec.request, sandbox="local", approve="auto"))
    for step, result in (("parse", spec), ("data", data)):
        run.state["steps"][step] = {"status": "done", "result": result.model_dump(mode="json")}
    return run


def test_a_second_run_on_similar_data_warm_starts_from_the_first(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))  # the real library is untouched
    first = TrainResult.model_validate(_train(_run(tmp_path, "first", seed=0), Experiment()))
    assert not any("Warm start" in n for n in first.notes)  # an empty library: nothing to start from

    second = TrainResult.model_validate(
        _train(_run(tmp_path, "second", seed=1), Experiment())
    )  # other reviews
    note = next(n for n in second.notes if n.startswith("Warm start from registered model"))
    warm = second.tuning["warm_start"]
    from trainer_agent.skills.model.registry import Registry

    first_id = Registry(tmp_path / "home" / "models.db").entries()[-1]["id"]  # oldest entry
    assert warm["from"] == first_id and first_id in note and warm["family"] == first.family
    assert warm["families"]  # the registered model's families (both members of a soft vote)
    for family in warm["families"]:
        grid = warm["grids"][family]
        assert grid["points"] < grid["of"]  # grid points around the registered settings only
    assert warm["time_saved_s"] == pytest.approx(sum(g["saved_s"] for g in warm["grids"].values()))
    assert warm["time_saved_s"] > 0 and "Time saved: about" in note and "skipped" in note

    # other labels (the same reviews called good/bad): the library has nothing close
    other = _run(tmp_path, "other", seed=1, relabel={"great": "good", "other": "bad"})
    third = TrainResult.model_validate(_train(other, Experiment()))
    assert not any("Warm start" in n for n in third.notes) and "warm_start" not in third.tuning


def test_the_grid_narrows_to_the_registered_point_and_its_neighbours() -> None:
    assert around([2000, 5000, 10000, 20000, 50000], 5000) == [2000, 5000, 10000]
    assert around([2000, 5000, 10000, 20000, 50000], 7321) == [5000, 10000, 20000]  # an Optuna value
    assert around([1.0, 4.0, 16.0], 16.0) == [4.0, 16.0]
    assert around([1.0, 4.0, 16.0], None) == [1.0, 4.0, 16.0]


def test_a_torch_net_starts_from_the_registered_nets_weights(tmp_path: Path) -> None:
    from trainer_agent.skills.model.torch_text import load_text_net
    from trainer_agent.skills.model.train import train_model

    first = _run(tmp_path, "first", seed=0)
    spec, data = (
        TaskSpec.model_validate(first.result("parse")),
        DataReport.model_validate(first.result("data")),
    )
    cold = train_model(spec, data, tmp_path / "cold", families=["torch-text-bag"], progress=lambda _: None)
    _, cold_config = load_text_net(cold.model_path)

    second = _run(tmp_path, "second", seed=1)
    spec2, data2 = (
        TaskSpec.model_validate(second.result("parse")),
        DataReport.model_validate(second.result("data")),
    )
    entry = {
        "id": "cold-run",
        "family": "torch-text-bag",
        "families": {"torch-text-bag": {}},
        "train_seconds": cold.train_seconds,
        "model_path": cold.model_path,
    }
    warm = train_model(
        spec2,
        data2,
        tmp_path / "warm",
        families=["torch-text-bag"],
        warm_start=entry,
        progress=lambda _: None,
    )
    _, warm_config = load_text_net(warm.model_path)
    assert warm_config.vocab == cold_config.vocab  # the registered net's vocabulary came along
    weights = warm.tuning["warm_start"]["weights"]["torch-text-bag"]
    best_cold = max(h["val_accuracy"] for h in cold_config.history)
    assert weights["target_val_accuracy"] == best_cold
    # seeded with trained weights, the net is at the registered accuracy within an epoch or two
    assert weights["epochs_warm"] is not None and weights["epochs_warm"] <= 2
    assert weights["epochs_warm"] <= weights["epochs_from_scratch"]
    note = next(n for n in warm.notes if n.startswith("Warm start from registered model cold-run"))
    assert "started from its weights and vocabulary" in note and "per epoch" in note
