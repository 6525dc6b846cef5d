"""Catalog rows train every cross-validation fold but are never scored (skills.model.cross_val):
the scores that choose a family and its settings are the person's rows' alone, through the
trainer (skills.model.train), and the model card says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold

from trainer_agent.skills.model.cross_val import cross_val_outputs
from trainer_agent.skills.model.model_data import person_rows
from trainer_agent.skills.model.tabular_pipelines import pipeline, start_hyper
from trainer_agent.skills.model.train import train_model
from trainer_agent.skills.model.train_tabular import FOLDS
from trainer_agent.skills.specs import DataReport, TaskSpec

N_PERSON, N_CATALOG = 120, 120


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The person's rows: the label follows x > 0, with some noise; the catalog's: the opposite
    (mislabelled), so scoring them too would pull every score down."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=N_PERSON + N_CATALOG + 60)
    label = np.where(x > 0, "yes", "no")
    noise = rng.random(len(x)) < 0.1
    label[noise] = np.where(label[noise] == "yes", "no", "yes")
    label[N_PERSON : N_PERSON + N_CATALOG] = np.where(x[N_PERSON : N_PERSON + N_CATALOG] > 0, "no", "yes")
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=len(x)), "label": label})
    return frame.iloc[: N_PERSON + N_CATALOG].reset_index(drop=True), frame.iloc[-60:]


def _rows(x, idx):
    return x.iloc[idx] if hasattr(x, "iloc") else x[idx]


def _person_only(estimator, x, y, cv, scored) -> list[float]:
    """The person-rows-only computation, written out: each fold fits on its training rows plus every
    catalog row and is scored on its held-out person rows."""
    out = []
    for fit, held in cv.split(x, y):
        fit = np.union1d(fit, held[~scored[held]])
        model = clone(estimator).fit(_rows(x, fit), y[fit])
        test = held[scored[held]]
        out.append(accuracy_score(y[test], model.predict(_rows(x, test))))
    return out


def test_cross_validation_scores_only_the_persons_rows() -> None:
    train, _ = _frames()
    x, y = train[["x", "z"]].to_numpy(), train["label"].to_numpy()
    scored = np.arange(len(y)) < N_PERSON
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    clf = LogisticRegression()
    mine, outs = cross_val_outputs(clf, x, y, cv, "accuracy", ["no", "yes"], score_rows=scored)
    assert mine == pytest.approx(_person_only(clf, x, y, cv, scored))
    every, _ = cross_val_outputs(clf, x, y, cv, "accuracy", ["no", "yes"])
    assert abs(np.mean(every) - np.mean(mine)) > 0.2  # scoring the catalog rows too would disagree
    assert all(scored[f].all() for f in outs.folds)  # an ensemble is scored on the same rows


def test_the_trainer_chooses_on_the_persons_rows_and_says_so(tmp_path: Path) -> None:
    train, test = _frames()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    train.to_csv(data_dir / "train.csv", index=False)
    test.to_csv(data_dir / "test.csv", index=False)
    listing = train.iloc[N_PERSON:].assign(row=range(N_PERSON, N_PERSON + N_CATALOG), catalog_entry="flip")
    listing.to_csv(data_dir / "catalog_rows.csv", index=False)
    spec = TaskSpec(request="Predict label.", task_type="tabular_classification", label_column="label")
    data = DataReport(
        train_path=str(data_dir / "train.csv"),
        test_path=str(data_dir / "test.csv"),
        test_from="user",
        n_train=len(train),
        n_test=len(test),
        columns=list(train.columns),
        label_column="label",
        feature_columns=["x", "z"],
        label_counts=train["label"].value_counts().to_dict(),
        catalog_rows=N_CATALOG,
    )
    scored = person_rows(data.train_path)
    assert scored is not None and scored.sum() == N_PERSON and not scored[N_PERSON:].any()

    family = "logistic-regression"
    result = train_model(spec, data, tmp_path, seed=0, families=[family], distill=False)
    inputs = [{"name": c, "column": c, "kind": "float"} for c in ("x", "z")]
    template = pipeline(spec.task_type, inputs, family, start_hyper(family), 0)
    frame, y = train[["x", "z"]], train["label"].to_numpy(dtype=object)
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    expected = np.mean(_person_only(template, frame, y, cv, scored))
    (row,) = [c for c in result.candidates if c["name"] == family]
    assert row["score"] == pytest.approx(
        expected, abs=5e-5
    )  # (shown to 4 places) what chose the family: the person's rows alone
    card = (tmp_path / "model_card.md").read_text(encoding="utf-8")
    assert f"are on your {N_PERSON:,} rows only" in card and f"{N_CATALOG:,} catalog rows" in card
