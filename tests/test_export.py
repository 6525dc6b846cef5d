"""ONNX export: the file's conventions, parity with the pipeline, checked independently with plain
onnxruntime, the parameter count read back from the file, and the predictor's input checks."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from tests.conftest_models import make_data, params_under, trained
from trainer_agent.skills.export.export import onnx_param_count
from trainer_agent.skills.export.onnx_predict import OnnxPredictor


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
    from trainer_agent.skills.specs import Requirement

    # logistic regression's vocabulary is cut until the file fits (skills.model.train_text._shrink_to_size)
    lr = ("tfidf-logistic-regression",)
    full = trained("fine_foods", export=True, families=lr)
    cap = int(full.export.size_bytes * 0.6) // 1000 * 1000  # so the limit has to be enforced
    limit = (Requirement(name="size_bytes", op="<", target=cap),)
    small = trained("fine_foods", limit, export=True, families=lr)
    assert small.export.size_bytes < cap and small.train.size_bytes < cap
    assert any(f"{cap:,} bytes" in n for n in small.train.notes), small.train.notes
    assert small.export.parity.label_agreement == 1.0
    # the default search (naive Bayes and the soft vote too) keeps the limit as well
    searched = trained("fine_foods", limit, export=True)
    assert searched.export.size_bytes < cap and searched.train.size_bytes < cap
    assert searched.export.parity.label_agreement == 1.0


def test_export_benchmark_and_conversion_outcomes():
    e = trained("fine_foods", export=True, families=("tfidf-logistic-regression",)).export
    bench = e.benchmark
    assert bench["batch_size"] == 32 and bench["threads"] == 1
    assert bench["batch_1_ms"] == e.latency_ms
    assert 0 < bench["batch_ms"]["p50"] <= bench["batch_ms"]["p95"]
    assert bench["batch_ms"]["p50"] > bench["batch_1_ms"]["p50"]  # 32 rows take longer than one
    assert bench["rows_per_s_batched"] > 0 and bench["rows_per_s_single"] > 0
    # no size, latency or memory limit: int8 is not even tried, and the float model is served
    assert (
        e.quantization["status"] == "off" and "no size, latency or memory limit" in e.quantization["reason"]
    )
    assert e.served == "float" and e.served_file == e.onnx_path
    # asked for anyway: TF-IDF + logistic regression has no MatMul/Gemm, nothing to quantize, said plainly
    from trainer_agent.skills.export.quantize import quantize_int8

    skipped = quantize_int8(e.onnx_path, [])
    assert skipped["status"] == "skipped" and "TfIdfVectorizer" in skipped["reason"]
    assert e.tensorrt["status"] == "skipped" and "keeping ONNX" in e.tensorrt["reason"]


def _mlp_model(tmp_path):
    """A real MLP on the digits data, converted by the project's own converter (MatMul/Gemm)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    from trainer_agent.skills.export.sklearn_onnx import convert

    x, y = load_digits(return_X_y=True, as_frame=True)
    x.columns = [f"p{i}" for i in range(x.shape[1])]
    y = y.astype(str)
    pipe = Pipeline(
        [
            ("prep", ColumnTransformer([("num", "passthrough", list(x.columns))])),
            ("model", MLPClassifier((64,), max_iter=40, random_state=0)),
        ]
    ).fit(x[:1400], y[:1400])
    info = {
        "task_type": "tabular_classification",
        "family": "mlp-classifier",
        "labels": sorted(set(y)),
        "inputs": [{"name": c, "column": c, "kind": "float"} for c in x.columns],
        "label_column": "digit",
    }
    path = tmp_path / "mlp.onnx"
    path.write_bytes(convert(pipe, info).SerializeToString())
    rows = x[1400:].to_dict("records")
    return path, rows


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_int8_quantization_of_a_matmul_model(tmp_path):
    from trainer_agent.skills.export.quantize import MIN_AGREEMENT, quantize_int8

    path, rows = _mlp_model(tmp_path)
    result = quantize_int8(path, rows, min_agreement=0.0)
    assert result["status"] == "candidate", (
        result
    )  # parity holds; whether it is served: skills.export.variant
    assert "MatMul" in result["quantized_ops"] or "Gemm" in result["quantized_ops"]
    assert result["size_bytes"]["int8"] < 0.6 * result["size_bytes"]["float"]  # int8 weights
    agreement = result["parity"]["label_agreement"]
    # Measured 0.987-1.0 over 12 seeds and two input scalings on these 397 rows (one row is 0.25%),
    # and it moves with onnxruntime releases: a sanity bound with margin, not the product's 99% rule.
    assert result["parity"]["n"] == len(rows) and agreement >= 0.95
    # int8 moves probabilities, by how much depends on the CPU's int8 kernels: measured 0.03-0.065 on
    # one machine, 0.258 on an AVX2-only AMD EPYC; the label agreement above is what the product checks
    assert 0 < result["parity"]["max_abs_diff"] < 0.5
    quant = OnnxPredictor(result["path"])  # metadata carried over: the service can load it
    assert quant.info["labels"] == [str(i) for i in range(10)] and quant.info["variant"] == "int8"
    assert OnnxPredictor(path).info["variant"] == "float"
    assert quant.predict(rows[:1])[0]["label"] == OnnxPredictor(path).predict(rows[:1])[0]["label"]
    # The rule, whatever this release measures: a candidate at the bar, rejected (and removed) above it.
    at_bar = quantize_int8(path, rows, out_path=tmp_path / "at.onnx", min_agreement=agreement)
    assert at_bar["status"] == "candidate" and (tmp_path / "at.onnx").exists()
    assert at_bar["parity"]["label_agreement"] == agreement  # the same graph and rows: deterministic
    above = quantize_int8(path, rows, out_path=tmp_path / "above.onnx", min_agreement=agreement + 1e-9)
    assert above["status"] == "rejected" and not (tmp_path / "above.onnx").exists()
    assert f"below {agreement + 1e-9}" in above["reason"] and "keeping the float model" in above["reason"]
    by_default = quantize_int8(path, rows, out_path=tmp_path / "default.onnx")  # the product's rule
    assert by_default["status"] == ("candidate" if agreement >= MIN_AGREEMENT else "rejected")


def test_tensorrt_detection_and_skip_paths(monkeypatch):
    from trainer_agent.skills.export import tensorrt_convert as trt

    text = trained("fine_foods", export=True, families=("tfidf-logistic-regression",)).export.onnx_path
    assert trt.unsupported_parts(text)[:1] == ["string input 'text'"]
    assert {"op ai.onnx.ml:LinearClassifier", "op com.microsoft:Tokenizer"} <= set(
        trt.unsupported_parts(text)
    )
    found = trt.detect(text)
    if not found["gpus"]:  # this machine: the honest answer
        assert found["reason"] == "no NVIDIA GPU: keeping ONNX on onnxruntime (CPU)"
        assert trt.tensorrt_engine(text)["status"] == "skipped"
    # With a GPU and tensorrt, scikit-learn's ai.onnx.ml graph is still not TensorRT's to run.
    monkeypatch.setattr(trt, "nvidia_gpus", lambda: ["NVIDIA H100"])
    monkeypatch.setattr(trt, "tensorrt_installed", lambda: False)
    assert "tensorrt is not installed" in trt.detect(text)["reason"]
    monkeypatch.setattr(trt, "tensorrt_installed", lambda: True)
    result = trt.tensorrt_engine(text)
    assert result["status"] == "skipped" and "TensorRT cannot run string input 'text'" in result["reason"]
    with pytest.raises(ValueError, match="precision"):
        trt.tensorrt_engine(text, precision="int4")


def test_torch_text_net_onnx_speedup_over_pytorch_eager(tmp_path):
    # The Model agent's torch text net (skills.model.torch_text), exported with its tokenizer in the graph
    # (skills.export.export_torch), timed against PyTorch eager at batch 1 on one thread each.
    from trainer_agent.skills.export.export import torch_eager_comparison
    from trainer_agent.skills.export.onnx_tail import held_out_rows
    from trainer_agent.skills.export.text_net_onnx import text_net_to_onnx
    from trainer_agent.skills.model.torch_text import fit_text_net, save_text_net
    from trainer_agent.skills.specs import TaskType

    b = make_data("fine_foods")
    frame = pd.read_csv(b.data.train_path)
    model, config = fit_text_net(
        list(frame["review"].astype(str)), list(frame["score"].astype(str)), epochs=1
    )
    save_text_net(model, config, tmp_path / "model.pt")
    info = {
        "task_type": "text_classification",
        "family": "torch-text-bag",
        "labels": config.labels,
        "inputs": [{"name": "text", "column": "review", "kind": "string"}],
        "text_column": "review",
        "label_column": "score",
    }
    (tmp_path / "model.onnx").write_bytes(text_net_to_onnx(model, config, info).SerializeToString())
    rows = held_out_rows(TaskType.TEXT_CLASSIFICATION, info, b.data.test_path)
    result = torch_eager_comparison(tmp_path / "model.pt", tmp_path / "model.onnx", rows)
    eager, onnx = result["pytorch_eager_batch_1_ms"], result["onnx_batch_1_ms"]
    assert result["speedup_vs_eager"] == pytest.approx(eager["p50"] / onnx["p50"], rel=0.02)
    assert result["speedup_vs_eager"] > 1.0  # measured ~8x here: tokenizing in the graph beats Python


@pytest.mark.parametrize("name", ["wine_mixed", "diabetes"])
def test_lightgbm_trains_on_native_categoricals_and_exports_exactly(tmp_path, name):
    # LightGBM takes the string column as categories (ordinal codes in the graph) and missing numbers
    # as missing; onnxmltools' converter, registered with skl2onnx, must reproduce it exactly.
    import joblib

    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.model_data import load_features
    from trainer_agent.skills.model.model_files import read_model_info
    from trainer_agent.skills.model.train import train_model

    b = make_data(name)
    family = "lightgbm-regressor" if name == "diabetes" else "lightgbm-classifier"
    result = train_model(b.spec, b.data, tmp_path, seed=0, families=[family])
    assert result.family == family
    pipe = joblib.load(tmp_path / "models" / "model.joblib")
    model = pipe.named_steps["model"]
    infos = list(model.booster_.dump_model()["feature_infos"].values())
    categorical = [bool(i["values"]) for i in infos]  # LightGBM lists the categories it saw
    assert categorical == [False] * (len(infos) - 1) + [name == "wine_mixed"]  # 'cellar' comes last
    export = export_onnx(b.spec, b.data, result, tmp_path)
    assert export.parity.label_agreement == 1.0 and export.parity.max_abs_diff < 1e-4
    assert onnx_param_count(export.onnx_path) == result.params > 1000  # the booster's count, read back
    if name == "wine_mixed":  # a category never seen in training goes in as missing, in both
        sess, info = _session(export.onnx_path), read_model_info(tmp_path / "models" / "model.joblib")
        test = pd.read_csv(b.data.test_path).assign(cellar="a cellar never seen in training")
        test.to_csv(tmp_path / "unseen.csv", index=False)
        x, _ = load_features(b.spec.task_type, info, tmp_path / "unseen.csv")
        labels = sess.run(None, _feeds(sess, test))[0].ravel()
        assert (labels == pipe.predict(x)).all()


def test_a_graph_the_quantizer_cannot_read_keeps_the_float_model(tmp_path):
    """Complement naive Bayes on TF-IDF: onnxruntime's quantizer cannot type one of its nodes; the
    export goes on with the float model and says why (it once failed the whole export job)."""
    from tests.conftest_models import make_data
    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.train import train_model

    built = make_data("fine_foods")
    result = train_model(
        built.spec, built.data, tmp_path, families=["tfidf-complement-nb"], progress=lambda line: None
    )
    exported = export_onnx(built.spec, built.data, result, tmp_path, quantize=True)
    assert exported.parity.label_agreement == 1.0
    status = exported.quantization["status"]
    assert status in ("kept", "not kept", "rejected", "skipped")
    if status == "skipped":
        assert "keeping the float model" in exported.quantization["reason"]
