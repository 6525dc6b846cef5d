"""ONNX export: the file's conventions, parity with the pipeline, checked independently with plain
onnxruntime, the parameter count read back from the file, and the predictor's input checks."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from skills.export import onnx_param_count
from skills.onnx_predict import OnnxPredictor
from tests.conftest_models import params_under, trained


def _session(path: str) -> ort.InferenceSession:
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def _meta(sess: ort.InferenceSession) -> dict:
    return json.loads(sess.get_modelmeta().custom_metadata_map["trainer_agent"])


def _feeds(sess: ort.InferenceSession, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Inputs built from the CSV by hand, from the ONNX metadata only (not OnnxPredictor)."""
    columns = {i["name"]: i["column"] for i in _meta(sess)["inputs"]}
    feeds = {}
    for inp in sess.get_inputs():
        values = frame[columns[inp.name]]
        if inp.type == "tensor(float)":
            feeds[inp.name] = values.to_numpy(dtype=np.float32).reshape(-1, 1)
        else:
            assert inp.type == "tensor(string)"
            feeds[inp.name] = np.array(["" if pd.isna(v) else str(v) for v in values], dtype=object).reshape(
                -1, 1
            )
    return feeds


def test_text_export_conventions_and_parity():
    b = trained("fine_foods", export=True)
    e = b.export
    assert e.onnx_path == str(b.run_dir / "exports" / "model.onnx")
    sess = _session(e.onnx_path)
    [inp] = sess.get_inputs()
    assert (inp.name, inp.type, inp.shape) == ("text", "tensor(string)", [None, 1])
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    meta = _meta(sess)
    assert meta["task_type"] == "text_classification" and meta["labels"] == b.train.labels
    assert meta["inputs"] == [{"name": "text", "column": "review", "kind": "string"}]
    assert meta["text_column"] == "review" and meta["label_column"] == "score"
    assert meta["family"] == b.train.family
    assert e.parity.n == b.data.n_test
    assert e.parity.label_agreement == 1.0 and e.parity.max_abs_diff < 1e-5
    assert e.size_bytes == (b.run_dir / "exports" / "model.onnx").stat().st_size
    lat = e.latency_ms
    assert set(lat) == {"p50", "p95", "p99"} and 0 < lat["p50"] <= lat["p95"] <= lat["p99"] < 100


def test_onnx_accuracy_checked_with_plain_onnxruntime():
    b = trained("fine_foods", export=True)
    test = pd.read_csv(b.data.test_path)
    sess = _session(b.export.onnx_path)
    texts = np.array([str(t) for t in test["review"]], dtype=object).reshape(-1, 1)
    labels, proba = sess.run(["label", "probabilities"], {"text": texts})
    accuracy = float(np.mean(labels == test["score"].astype(str).to_numpy()))
    assert accuracy == b.export.parity.onnx_metrics["accuracy"] == b.train.metrics["accuracy"]
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_limited_vocabulary_converts_exactly():
    # Cutting the vocabulary leaves word pairs whose words were cut; skl2onnx mis-converts those,
    # which train.select_vocabulary prevents. Parity must stay exact.
    b = trained("fine_foods", params_under(3000), export=True)
    assert b.export.parity.label_agreement == 1.0 and b.export.parity.max_abs_diff < 1e-5


@pytest.mark.parametrize("name", ["iris", "wine_mixed"])
def test_tabular_classifier_export_checked_with_plain_onnxruntime(name):
    b = trained(name, export=True)
    sess = _session(b.export.onnx_path)
    meta = _meta(sess)
    test = pd.read_csv(b.data.test_path)
    assert [i["column"] for i in meta["inputs"]] == b.data.feature_columns
    for inp, spec in zip(sess.get_inputs(), meta["inputs"], strict=True):
        assert inp.name == spec["name"] and inp.shape == [None, 1]
        assert inp.type == ("tensor(float)" if spec["kind"] == "float" else "tensor(string)")
    labels, _ = sess.run(["label", "probabilities"], _feeds(sess, test))
    accuracy = float(np.mean(labels == test["target"].astype(str).to_numpy()))
    assert accuracy == b.export.parity.onnx_metrics["accuracy"] == b.train.metrics["accuracy"]
    assert b.export.parity.label_agreement == 1.0 and b.export.parity.max_abs_diff < 1e-5


def test_regressor_export_checked_with_plain_onnxruntime():
    b = trained("diabetes", export=True)
    sess = _session(b.export.onnx_path)
    assert [o.name for o in sess.get_outputs()] == ["variable"]
    test = pd.read_csv(b.data.test_path)
    [values] = sess.run(["variable"], _feeds(sess, test))
    mae = float(np.mean(np.abs(values.ravel() - test["target"].to_numpy())))
    assert mae == pytest.approx(b.export.parity.onnx_metrics["mae"], rel=1e-9)
    assert mae == pytest.approx(b.train.metrics["mae"], rel=1e-5)  # float32 inference
    assert b.export.parity.max_abs_diff < 1e-3 and b.export.parity.label_agreement == 1.0


@pytest.mark.parametrize(
    "name, requirements",
    [
        ("fine_foods", ()),
        ("fine_foods", params_under(3000)),
        ("iris", ()),
        ("iris", params_under(1000)),
        ("diabetes", ()),
        ("wine_mixed", ()),
    ],
)
def test_param_count_matches_the_onnx_file(name, requirements):
    # Tolerance zero: onnx_param_count reads back exactly what count_params counts (idf and
    # linear weights; tree splits, leaves and baselines; one-hot categories; imputer values).
    b = trained(name, requirements, export=True)
    assert onnx_param_count(b.export.onnx_path) == b.train.params
    if requirements:
        assert b.train.params < requirements[0].target


def test_predictor_inputs_and_errors():
    text = OnnxPredictor(trained("fine_foods", export=True).export.onnx_path)
    a, b = text.predict(["Great coffee, will buy again", {"review": "Great coffee, will buy again"}])
    assert a == b and a["label"] in ("great", "other")
    assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert text.predict([]) == []
    with pytest.raises(ValueError, match="Input 0 must be a string"):
        text.predict([42])
    with pytest.raises(ValueError, match="unknown field"):
        text.predict([{"body": "x"}])

    wine = OnnxPredictor(trained("wine_mixed", export=True).export.onnx_path)
    assert wine.info["labels"] == ["a", "b", "c"] and wine.info["task_type"] == "tabular_classification"
    [pred] = wine.predict([{"alcohol": 13.2}])  # every other column missing: NaN / ""
    assert pred["label"] in ("a", "b", "c")
    with pytest.raises(ValueError, match="unknown column"):
        wine.predict([{"alcohool": 13.2}])
    with pytest.raises(ValueError, match="'alcohol' must be a number"):
        wine.predict([{"alcohol": "high"}])
    with pytest.raises(ValueError, match="'cellar' must be a string"):
        wine.predict([{"cellar": 3}])
    with pytest.raises(ValueError, match="must be an object keyed by column"):
        wine.predict(["alcohol=13"])

    [value] = OnnxPredictor(trained("diabetes", export=True).export.onnx_path).predict([{"bmi": 0.05}])
    assert set(value) == {"value"} and isinstance(value["value"], float)


def test_size_limit_holds_for_the_onnx_file():
    from skills.specs import Requirement

    limit = (Requirement(name="size_bytes", op="<", target=100_000),)
    full = trained("fine_foods", export=True)
    small = trained("fine_foods", limit, export=True)
    assert full.export.size_bytes > 100_000  # so the limit had to be enforced
    assert small.export.size_bytes < 100_000 and small.train.size_bytes < 100_000
    assert any("100,000 bytes" in n for n in small.train.notes)
    assert small.export.parity.label_agreement == 1.0
