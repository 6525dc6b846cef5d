"""PyTorch text nets: trained through `train_model`, exported to ONNX with the tokenizer in the
graph, the parameter limit checked on the exported file, and int8 quantization's cost measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest_models import make_data, params_under
from trainer_agent.skills.export.export import export_onnx, onnx_param_count
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.model.compress import onnx_int8_accuracy
from trainer_agent.skills.model.train import train_model


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory):
    b = make_data("fine_foods", params_under(1_000_000))
    out = tmp_path_factory.mktemp("torch")
    lines: list[str] = []
    r = train_model(b.spec, b.data, out, families=["torch-text-bag"], progress=lines.append)
    e = export_onnx(b.spec, b.data, r, out, quantize=True, tensorrt=None)  # int8 asked for: measured
    return b, r, e, lines


def test_torch_net_trains_with_early_stopping_and_progress(torch_run):
    b, r, _, lines = torch_run
    assert r.family == "torch-text-bag" and r.source == "torch" and r.model_path.endswith("model.pt")
    assert any("epoch 1" in line for line in lines)  # progress shown per epoch
    assert r.metrics["accuracy"] > 0.6
    assert "plots/learning_curve.png" in r.plots  # epochs of the net


def test_under_one_million_parameters_counted_from_the_onnx_file(torch_run):
    b, r, e, _ = torch_run
    assert onnx_param_count(e.onnx_path) == r.params < 1_000_000
    assert e.parity.label_agreement == 1.0 and e.parity.max_abs_diff < 1e-4
    # the exported graph tokenizes by itself and follows the text conventions
    p = OnnxPredictor(e.onnx_path)
    out = p.predict(["Great coffee, will buy again", "", "!!!"])
    assert all(o["label"] in ("great", "other") for o in out)


def test_a_tight_limit_shrinks_the_vocabulary(tmp_path):
    b = make_data("fine_foods", params_under(40_000))
    r = train_model(b.spec, b.data, tmp_path, families=["torch-text-bag"], progress=lambda s: None)
    e = export_onnx(b.spec, b.data, r, tmp_path, quantize=False, tensorrt=None)
    assert onnx_param_count(e.onnx_path) == r.params < 40_000
    assert r.metrics["accuracy"] > 0.55


def test_quantization_parity_is_measured_and_reported(torch_run, tmp_path):
    b, r, e, _ = torch_run
    test = pd.read_csv(b.data.test_path)
    rows = [str(t) for t in test["review"]]
    q = onnx_int8_accuracy(e.onnx_path, rows, test["score"], out_path=tmp_path / "model.int8.onnx")
    acc = q["accuracy"]
    assert acc["float"] == pytest.approx(r.metrics["accuracy"])
    assert abs(acc["difference"]) <= 0.05, acc  # int8 costs little accuracy
    assert q["size_bytes"]["int8"] < q["size_bytes"]["float"]
    # the torch int8 copy is re-evaluated while training, and reported next to the float model
    torch_int8 = [v for v in r.compression["variants"] if "int8" in v["name"]][0]
    assert (
        abs(torch_int8["delta"]) <= 0.05
        and torch_int8["size_bytes"]["int8"] < torch_int8["size_bytes"]["float"]
    )
    assert np.isfinite(e.quantization["parity"]["label_agreement"])
