"""Soft-voting ensembles after model selection (skills.model.ensemble): kept only where they beat the best
single model in cross-validation within the limits, counted and exported like any other model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainer_agent.skills.export.export import export_onnx, onnx_param_count
from trainer_agent.skills.model import ensemble
from trainer_agent.skills.model.ensemble import NAME
from trainer_agent.skills.model.train import train_model
from trainer_agent.skills.specs import DataReport, Requirement, TaskSpec

# The scenarios below (which average wins, and how surely) were measured over these three families;
# the rule is under test, not the catalog's defaults, so the tests name them.
CLASSIC = ["logistic-regression", "random-forest-classifier", "gradient-boosting-classifier"]


def _bundled(name: str, rows: int, seed: int, folder: Path, reqs: list[Requirement] | None = None):
    """`rows` random training rows of a scikit-learn data set as CSV; the rest is the test file."""
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    frame["target"] = frame["target"].map(lambda i: f"class_{i}")
    order = np.random.default_rng(seed).permutation(len(frame))
    train, test = frame.iloc[order[:rows]], frame.iloc[order[rows:]]
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    features = [c for c in frame.columns if c != "target"]
    spec = TaskSpec(
        request=f"Predict the class of {name}.",
        task_type="tabular_classification",
        label_column="target",
        feature_columns=features,
        requirements=reqs or [],
    )
    data = DataReport(
        train_path=str(folder / "train.csv"),
        test_path=str(folder / "test.csv"),
        test_from="user",
        n_train=len(train),
        n_test=len(test),
        columns=list(frame.columns),
        label_column="target",
        feature_columns=features,
        label_counts=train["target"].value_counts().to_dict(),
    )
    return spec, data


def _row(result, name: str) -> dict:
    return next(c for c in result.candidates if c["name"] == name)


@pytest.fixture(scope="module")
def wine_small(tmp_path_factory: pytest.TempPathFactory):
    # 100 training rows of wine: logistic regression, random forest and gradient boosting each
    # err on different rows, and their average beats the best of them by about 0.02 in 3-fold CV;
    # it does so in about 79% of bootstrap resamples of the rows, under the 95% the Model agent
    # asks by default. With the bar at 75% (the rule is a parameter) the ensemble is chosen.
    spec, data = _bundled("wine", 100, 1, tmp_path_factory.mktemp("wine_small"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ensemble, "CONFIDENCE", 0.75)
        result = train_model(
            spec, data, Path(data.train_path).parent / "run", families=CLASSIC, progress=lambda _: None
        )
    return spec, data, result


def test_a_gain_within_the_noise_is_not_used(tmp_path: Path) -> None:
    spec, data = _bundled("wine", 100, 1, tmp_path / "data")
    result = train_model(spec, data, tmp_path / "run", families=CLASSIC, progress=lambda _: None)
    row = _row(result, NAME)
    best = max(c["score"] for c in result.candidates if c["name"] != NAME)
    assert row["score"] > best + 0.005 and row["status"] == "evaluated"  # better in CV ...
    assert 0.5 < row["detail"]["bootstrap_wins"] < ensemble.CONFIDENCE  # ... but not surely
    assert result.family != NAME
    assert any("the gain is within the noise" in n for n in result.notes)


def test_ensemble_is_chosen_where_it_helps_and_exports_with_parity(wine_small) -> None:
    spec, data, result = wine_small
    row = _row(result, NAME)
    assert result.family == NAME and row["status"] == "chosen"
    assert row["detail"]["bootstrap_wins"] >= 0.75 and "bootstrap resamples" in row["reason"]
    singles = [c for c in result.candidates if c["name"] != NAME and "score" in c]
    assert row["score"] > max(c["score"] for c in singles) + 0.005
    assert not [c for c in singles if c["status"] == "chosen"]
    members = row["detail"]["members"]
    assert 2 <= len(members) <= 3
    assert result.params == sum(_row(result, m)["params"] for m in members)  # parameters add up
    assert any(n.startswith("Chosen: soft voting") for n in result.notes)

    export = export_onnx(
        spec, data, result, Path(data.train_path).parent / "run", quantize=False, tensorrt=None
    )
    assert export.parity.label_agreement == 1.0 and export.parity.max_abs_diff < 1e-4
    assert onnx_param_count(export.onnx_path) == result.params  # the ONNX file holds the same numbers
    assert export.parity.onnx_metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])


def test_a_tight_parameter_limit_rules_the_ensemble_out_and_says_why(tmp_path: Path) -> None:
    limit = [Requirement(name="params", op="<=", target=3000)]
    spec, data = _bundled("wine", 100, 1, tmp_path / "data", limit)
    result = train_model(spec, data, tmp_path / "run", families=CLASSIC, progress=lambda _: None)
    assert result.family != NAME and result.params <= 3000
    assert NAME not in {c["name"] for c in result.candidates}  # not even scored
    note = next(n for n in result.notes if "soft-voting ensemble" in n)
    assert "fewer than two" in note and "gradient-boosting-classifier" in note and "broke the limits" in note


def test_summed_latency_over_the_limit_rules_the_ensemble_out(tmp_path: Path) -> None:
    # every single model is expected at 0.1-0.5 ms a request; any average with a forest adds up past 0.55
    limit = [Requirement(name="latency_p50_ms", op="<=", target=0.55)]
    spec, data = _bundled("wine", 100, 1, tmp_path / "data", limit)
    result = train_model(spec, data, tmp_path / "run", families=CLASSIC, progress=lambda _: None)
    row = _row(result, NAME)
    assert result.family != NAME and row["status"] == "over-limit" and "latency_p50_ms limit" in row["reason"]
    assert "score" not in row  # ruled out before it was scored
    assert any(n.startswith("A soft-voting ensemble of the top models was not used") for n in result.notes)


def test_no_ensemble_where_it_does_not_help(tmp_path: Path) -> None:
    # 200 rows of breast_cancer: logistic regression alone (0.970) beats every average with trees
    spec, data = _bundled("breast_cancer", 200, 0, tmp_path / "data")
    result = train_model(spec, data, tmp_path / "run", families=CLASSIC, progress=lambda _: None)
    row = _row(result, NAME)
    assert result.family == "logistic-regression" and row["status"] == "evaluated"
    assert row["score"] <= _row(result, "logistic-regression")["score"] + 0.005
    assert any(n.startswith("Not used: soft voting") for n in result.notes)


def test_text_ensemble_of_pipelines_with_their_own_vocabularies_converts_exactly(fine_foods_small) -> None:
    import pandas as pd

    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.export.sklearn_onnx import convert
    from trainer_agent.skills.model.ensemble import build
    from trainer_agent.skills.model.model_size import count_params
    from trainer_agent.skills.model.text_features import select_vocabulary, text_pipeline

    train, test = (pd.read_csv(p) for p in fine_foods_small)
    x, y = train["review"].astype(str).to_numpy(), train["score"].astype(str).to_numpy()
    members = [
        (family, text_pipeline(family, select_vocabulary(x, k), value, None, True, 0).fit(x, y))
        for family, k, value in (("tfidf-logistic-regression", 2000, 4.0), ("tfidf-complement-nb", 5000, 0.3))
    ]
    model = build(members, sorted(set(y)))
    assert count_params(model) == sum(count_params(m) for _, m in members)
    info = {
        "family": NAME,
        "task_type": "text_classification",
        "inputs": [{"name": "text", "column": "review", "kind": "string"}],
        "label_column": "score",
        "labels": [str(c) for c in model.classes_],
    }
    path = Path(fine_foods_small[0]).parent / "ensemble.onnx"
    path.write_bytes(convert(model, info).SerializeToString())
    texts = test["review"].astype(str).tolist()
    labels, proba = OnnxPredictor(path).run(OnnxPredictor(path).feeds(texts))
    assert np.mean(labels == model.predict(np.asarray(texts, dtype=object))) == 1.0
    assert np.abs(proba - model.predict_proba(np.asarray(texts, dtype=object))).max() < 1e-4


def test_an_ensemble_with_a_lightgbm_member_converts_exactly(tmp_path: Path) -> None:
    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.export.sklearn_onnx import convert
    from trainer_agent.skills.model.ensemble import build
    from trainer_agent.skills.model.model_size import count_params
    from trainer_agent.skills.model.tabular_pipelines import pipeline, start_hyper
    from trainer_agent.skills.specs import TaskType

    spec, data = _bundled("wine", 120, 0, tmp_path / "data")
    train, test = (pd.read_csv(p) for p in (data.train_path, data.test_path))
    inputs = [{"name": f"f{i}", "column": c, "kind": "float"} for i, c in enumerate(data.feature_columns)]
    x = train[data.feature_columns].set_axis([i["name"] for i in inputs], axis=1)
    xt = test[data.feature_columns].set_axis([i["name"] for i in inputs], axis=1)
    y = train["target"].to_numpy()
    members = [
        (f, pipeline(TaskType.TABULAR_CLASSIFICATION, inputs, f, start_hyper(f), 0).fit(x, y))
        for f in ("lightgbm-classifier", "logistic-regression")
    ]
    model = build(members, sorted(set(y)))
    info = {
        "family": NAME,
        "task_type": "tabular_classification",
        "inputs": inputs,
        "label_column": "target",
        "labels": [str(c) for c in model.classes_],
    }
    path = tmp_path / "ensemble.onnx"
    path.write_bytes(convert(model, info).SerializeToString())
    assert onnx_param_count(path) == count_params(model) == sum(count_params(m) for _, m in members)
    predictor = OnnxPredictor(path)
    labels, proba = predictor.run(predictor.feeds(test[data.feature_columns].to_dict("records")))
    assert np.mean(labels == model.predict(xt)) == 1.0
    assert np.abs(proba - model.predict_proba(xt)).max() < 1e-4
