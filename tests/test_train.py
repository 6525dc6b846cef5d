"""Metrics, requirement checks, parameter counting and training on small real data."""

from __future__ import annotations

import math
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.conftest_models import make_data, params_under, trained
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.evaluate import check_requirements, compute_metrics
from trainer_agent.skills.model.model_size import count_params
from trainer_agent.skills.model.text_features import select_vocabulary
from trainer_agent.skills.model.train import train_model
from trainer_agent.skills.specs import Requirement, TaskType

# ---------------------------------------------------------------- metrics


def test_classification_metrics_by_hand():
    y_true = ["a", "a", "b", "b", "b"]
    y_pred = ["a", "b", "b", "b", "a"]
    proba_b = [0.1, 0.6, 0.8, 0.7, 0.4]
    proba = np.column_stack([1 - np.array(proba_b), proba_b])
    m = compute_metrics("text_classification", y_true, y_pred, proba, labels=["a", "b"])
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision[a]"] == pytest.approx(0.5) and m["recall[a]"] == pytest.approx(0.5)
    assert m["precision[b]"] == pytest.approx(2 / 3) and m["recall[b]"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["recall"] == pytest.approx((0.5 + 2 / 3) / 2)
    # 5 of the 6 (positive, negative) pairs are ordered right; the positive class is labels[1]
    assert m["roc_auc"] == pytest.approx(5 / 6)
    flipped = compute_metrics("text_classification", y_true, y_pred, proba, labels=["b", "a"])
    assert flipped["roc_auc"] == pytest.approx(1 - 5 / 6)


def test_multiclass_and_regression_metrics():
    y = ["x", "y", "z", "x"]
    proba = np.eye(3)[[0, 1, 2, 0]]
    m = compute_metrics("tabular_classification", y, y, proba, labels=["x", "y", "z"])
    assert m["accuracy"] == 1.0 and m["roc_auc"] == 1.0 and m["f1[z]"] == 1.0
    assert "roc_auc" not in compute_metrics("tabular_classification", y, y)
    r = compute_metrics("tabular_regression", [1, 2, 3], [1, 2, 5])
    assert r["mae"] == pytest.approx(2 / 3)
    assert r["rmse"] == pytest.approx(math.sqrt(4 / 3))
    assert r["r2"] == pytest.approx(-1.0)


def test_check_requirements_notes():
    reqs = [
        Requirement(name="accuracy", op=">=", target=0.9),
        Requirement(name="params", op="<", target=1_000_000),
        Requirement(name="recall", op=">=", target=0.8, label="other"),
        Requirement(name="qps", op=">=", target=100),
        Requirement(name="latency_p95_ms", op="<=", target=50),
    ]
    measured = {"accuracy": 0.869, "params": 1_200_000, "qps": 150.0, "latency_p95_ms": 50.0}
    acc, params, recall, qps, lat = check_requirements(reqs, measured)
    assert (acc.met, acc.achieved, acc.note) == (False, 0.869, "short by 0.031")
    assert (params.met, params.note) == (False, "over by 200,000")
    assert recall.name == "recall[other]" and recall.met is None and recall.achieved is None
    assert recall.note == "not measured"
    assert qps.met is True and qps.note == ""
    assert lat.met is True


# ---------------------------------------------------------------- parameter counting


def test_count_params_of_stumps_and_linear_models():
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    gb = GradientBoostingRegressor(n_estimators=1, max_depth=1).fit(x, [0.0, 0.0, 1.0, 1.0])
    # one split (feature + threshold) + two leaf values + the baseline
    assert count_params(gb) == 2 + 2 + 1
    lr = LogisticRegression().fit(np.random.default_rng(0).random((30, 4)), ["a", "b", "c"] * 10)
    assert count_params(lr) == 3 * 4 + 3


def test_vocabulary_drops_pairs_with_unknown_words():
    docs = ["br br gary peterson", "br br gary", "br br", "br br kate", "kate kate"]
    vocab = select_vocabulary(np.array(docs, dtype=object), max_features=4)
    for term in vocab:
        assert all(word in vocab for word in term.split(" ")), term


# ---------------------------------------------------------------- training


LR = ("tfidf-logistic-regression",)


def test_text_model_on_fine_foods():
    b = trained("fine_foods", families=LR)  # this family's own size formula and card
    r = b.train
    assert r.family == "tfidf-logistic-regression"
    assert r.labels == ["great", "other"]
    test_labels = pd.read_csv(b.data.test_path)["score"]
    majority = float((test_labels == "great").mean())
    assert r.metrics["accuracy"] > majority + 0.05, (r.metrics, majority)  # beats always saying "great"
    assert {"f1", "precision", "recall", "roc_auc", "recall[other]", "f1[great]"} <= set(r.metrics)
    model_path = Path(r.model_path)
    assert model_path == b.run_dir / "models" / "model.joblib"
    assert r.size_bytes == model_path.stat().st_size
    pipe = joblib.load(model_path)
    vocab = len(pipe.named_steps["tfidf"].vocabulary_)
    assert r.params == count_params(pipe) == 2 * vocab + 1  # idf + one coefficient per term + bias
    assert r.train_seconds > 0
    card = (b.run_dir / "model_card.md").read_text()
    assert b.spec.request in card and "tfidf-logistic-regression" in card
    assert f"{r.metrics['accuracy']:.4f}" in card
    assert any("cross-validation" in n for n in r.notes)


def test_default_text_search_keeps_the_best_cross_validated_candidate():
    from trainer_agent.skills.model.model_catalog import candidates
    from trainer_agent.skills.model.select_model import TIE_TOLERANCE

    defaults = {c.name for c in candidates("text_classification") if c.default}
    assert {"tfidf-logistic-regression", "tfidf-complement-nb"} <= defaults
    b = trained("fine_foods")
    r = b.train
    assert r.family in defaults | {"soft-voting-ensemble"}
    scored = {c["name"]: c["score"] for c in r.candidates if c.get("score") is not None}
    assert {"tfidf-logistic-regression", "tfidf-complement-nb"} <= set(scored)  # both tried
    [chosen] = [c for c in r.candidates if c["status"] == "chosen"]
    best_single = max(v for name, v in scored.items() if name != "soft-voting-ensemble")
    assert chosen["name"] == r.family
    if r.family == "soft-voting-ensemble":  # kept only when it beats the best single model
        assert chosen["score"] > best_single + TIE_TOLERANCE - 1e-4  # scores rounded to 4 places
    else:  # scores this close count as a tie, which the smaller model wins
        assert chosen["score"] >= best_single - TIE_TOLERANCE - 1e-4
    test_labels = pd.read_csv(b.data.test_path)["score"]
    assert r.metrics["accuracy"] > float((test_labels == "great").mean()) + 0.05
    assert r.params == count_params(joblib.load(r.model_path))
    if r.compression["status"] == "skipped":  # naive Bayes or a soft vote: says why, not "trees"
        assert "TF-IDF weights" in r.compression["reason"], r.compression


def test_text_model_respects_a_parameter_limit():
    b = trained("fine_foods", params_under(3000))
    assert b.train.params < 3000
    assert any("capped at 1,499 features" in n and "under 3,000 parameters" in n for n in b.train.notes)
    assert b.train.metrics["accuracy"] > 0.6


def test_tabular_models_fit_limits():
    full = trained("iris").train
    small = trained("iris", params_under(1000)).train
    assert full.params >= 1000 > small.params
    filtered = {c["name"] for c in small.candidates if c["status"] == "filtered"}
    assert "random-forest-classifier" in filtered  # ruled out from the catalog's estimate, unfitted
    assert small.metrics["accuracy"] >= 0.85
    # a limit no model can meet: the smallest model is kept, and the notes say so
    tiny = trained("iris", params_under(10)).train
    assert tiny.params >= 10
    assert any("over the limit" in n for n in tiny.notes)


def test_tree_ensembles_shrink_to_fit_a_limit(tmp_path):
    b = make_data("iris")
    spec = b.spec.model_copy(update={"requirements": list(params_under(600))})
    r = train_model(
        spec, b.data, tmp_path, families=["gradient-boosting-classifier"], progress=lambda s: None
    )
    assert r.family == "gradient-boosting-classifier" and r.params < 600
    assert any("shrunk" in n for n in r.notes)


def test_chosen_tabular_models_beat_or_match_gradient_boosting(tmp_path):
    """The issue's bar: better than the skeleton's gradient boosting, or as good with fewer parameters,
    judged on the cross-validation the choice is made by. Held out, iris has 40 test rows (one row is
    2.5 points) and families that tie in CV land 0.90-0.95 there: the held-out comparison allows the
    test set's own noise, two standard errors."""
    from trainer_agent.skills.model.select_model import TIE_TOLERANCE

    for name, key in (("iris", "accuracy"), ("diabetes", "r2")):
        chosen = trained(name).train
        b = make_data(name)
        gb = "gradient-boosting-" + ("regressor" if key == "r2" else "classifier")
        rows = {c["name"]: c for c in chosen.candidates}
        mine = rows[chosen.family]
        assert mine["score"] > rows[gb]["score"] or (
            mine["score"] >= rows[gb]["score"] - TIE_TOLERANCE and chosen.params < rows[gb]["params"]
        ), (name, mine, rows[gb])
        assert any("chosen by 3-fold" in n for n in chosen.notes)  # the choice is explained
        base = train_model(b.spec, b.data, tmp_path / name, families=[gb], progress=lambda s: None)
        p, n = base.metrics[key], b.data.n_test
        noise = 2 * math.sqrt(p * (1 - p) / n) if key == "accuracy" else 0.0  # r2: ridge wins by 0.08
        assert chosen.metrics[key] >= base.metrics[key] - noise, (name, chosen.family, chosen.metrics, p)


def test_iris_and_diabetes_models():
    from trainer_agent.skills.model.model_catalog import candidates

    iris = trained("iris").train
    defaults = {c.name for c in candidates(TaskType.TABULAR_CLASSIFICATION) if c.default}
    assert iris.family in defaults | {"soft-voting-ensemble"}
    assert iris.labels == ["setosa", "versicolor", "virginica"]
    assert iris.metrics["accuracy"] >= 0.85  # 40 test rows; the CV-tied default families measure 0.90-0.95
    assert [c for c in iris.candidates if c["status"] == "chosen"][0]["name"] == iris.family
    diabetes = trained("diabetes").train
    # ridge alone, or ridge + forest averaged when that scores more than 0.005 higher in CV
    assert diabetes.family in {"ridge-regression", "soft-voting-ensemble"} and diabetes.labels == []
    assert set(diabetes.metrics) == {"mae", "rmse", "r2"}
    assert diabetes.metrics["r2"] > 0.2 and diabetes.metrics["mae"] < 60


def test_evaluation_extras_and_model_card():
    b = trained("fine_foods", families=LR)  # pruning applies to a linear model's weights
    r = b.train
    assert r.plots == ["plots/confusion_matrix.png", "plots/learning_curve.png"]
    for plot in r.plots:
        assert (b.run_dir / plot).read_bytes()[:4] == b"\x89PNG"
    assert 0.0 <= r.calibration["ece"] <= 1.0
    assert sum(row["n"] for row in r.calibration["table"]) == b.data.n_test
    card = (b.run_dir / "model_card.md").read_text()
    for heading in ("## Intended use", "## Data", "## Why this model", "## Held-out metrics", "## Limits"):
        assert heading in card
    assert "expected calibration error" in card
    # compression variants are re-evaluated and reported against the float model
    variants = r.compression["variants"]
    assert variants[0]["kept"] and all("score" in v and "params" in v for v in variants)
    assert len(variants) > 1, r.compression
    assert all(v["params"] < r.params for v in variants[1:])


def test_mixed_columns_with_gaps():
    import json

    b = trained("wine_mixed")
    info = json.loads((b.run_dir / "models" / "model.json").read_text())
    kinds = {i["column"]: i["kind"] for i in info["inputs"]}
    assert kinds["cellar"] == "string" and kinds["alcohol"] == "float"
    assert {i["name"] for i in info["inputs"]} >= {"od280_od315_of_diluted_wines"}  # sanitized
    assert b.train.metrics["accuracy"] >= 0.85


def test_bad_inputs_raise_user_errors(tmp_path):
    b = make_data("iris")
    bad_label = b.data.model_copy(update={"label_column": "species"})
    with pytest.raises(UserError, match="species"):
        train_model(b.spec, bad_label, tmp_path)
    missing = b.data.model_copy(update={"train_path": str(tmp_path / "nope.csv")})
    with pytest.raises(UserError, match="nope.csv"):
        train_model(b.spec, missing, tmp_path)
    one_class = tmp_path / "one.csv"
    one_class.write_text("x,y\n1,a\n2,a\n3,a\n")
    data = b.data.model_copy(
        update={"train_path": str(one_class), "label_column": "y", "feature_columns": ["x"]}
    )
    spec = b.spec.model_copy(update={"feature_columns": ["x"]})
    with pytest.raises(UserError, match="single class"):
        train_model(spec, data, tmp_path)
    ff = make_data("fine_foods")
    with pytest.raises(UserError, match="Text column 'body'"):
        train_model(ff.spec, ff.data.model_copy(update={"text_column": "body"}), tmp_path)


def test_lightgbm_tunes_with_optuna_under_a_budget_starting_from_its_defaults(tmp_path):
    b = make_data("wine_mixed")
    r = train_model(
        b.spec, b.data, tmp_path, budget_min=0.25, families=["lightgbm-classifier"], progress=lambda s: None
    )
    t = r.tuning["lightgbm-classifier"]
    assert t["budget_s"] == pytest.approx(7.5) and t["elapsed_s"] <= t["budget_s"] + 5  # half of 15 s
    first = t["trials"][0]
    assert first["params"] == {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_child_samples": 20,
    }
    assert t["n_complete"] >= 2 and t["best_value"] >= first["value"]  # never below its defaults in CV
    [row] = [c for c in r.candidates if c["status"] == "chosen"]
    assert row["score"] == round(t["best_value"], 4)  # the same folds, on the person's labels
    assert {k: row["detail"][k] for k in t["best_params"]} == t["best_params"]
    assert any(n.startswith("lightgbm-classifier tuned by Optuna within 8 s") for n in r.notes)
    assert (tmp_path / "models" / "tuning-lightgbm-classifier.journal").is_file()
