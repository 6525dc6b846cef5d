"""The transformers image families (`skills.model.hf_image`) on scikit-learn's digits as PNG files: a ViT
from scratch when no pretrained model is found, a saved ViT given with --model-dir (gray 8x8 digits
resized to its 16x16 RGB input inside the net), ONNX parity and exact parameter counts, and the
sentences for families that cannot run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_image import digits_spec, write_digits
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.export import onnx_param_count
from trainer_agent.skills.specs import Requirement, TaskType

REQUIREMENTS = [
    Requirement(name="accuracy", op=">=", target=0.5),
    Requirement(name="params", op="<", target=10**6),
]


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """400 digits (40 per class) through the data stage: about 320 to train, 80 to test."""
    from trainer_agent.skills.data.data_stage import run_data_stage

    folder = write_digits(tmp_path_factory.mktemp("digits") / "digits", per_class=40)
    spec = digits_spec(REQUIREMENTS)
    return spec, run_data_stage(spec, folder, None, tmp_path_factory.mktemp("stage"))


@pytest.fixture(autouse=True)
def _no_models_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINER_AGENT_MODELS", raising=False)


def _train(spec, data, run: Path, epochs: int, monkeypatch: pytest.MonkeyPatch, **kw) -> tuple:
    """train_model with the transformers families capped at `epochs` (deterministic, unlike a time
    budget on a shared machine)."""
    from trainer_agent.skills.model import hf_image
    from trainer_agent.skills.model.train import train_model

    monkeypatch.setattr(hf_image, "EPOCHS", epochs)
    lines: list[str] = []
    result = train_model(spec, data, run, progress=lines.append, **kw)
    return result, lines


def test_vit_from_scratch_trains_exports_with_parity_and_says_so(
    digits_data: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainer_agent.skills.export.export import export_onnx, onnx_param_count
    from trainer_agent.skills.model.hf_image import SCRATCH_SOURCE, vit_params

    spec, data = digits_data
    result, lines = _train(spec, data, tmp_path, 10, monkeypatch, families=["vit-tiny"])
    assert result.family == "vit-tiny" and result.source == "from-scratch"
    assert any(n.startswith(f"vit-tiny weights: {SCRATCH_SOURCE}") for n in result.notes)
    assert SCRATCH_SOURCE in (tmp_path / "model_card.md").read_text()
    assert [line.split(":")[0] for line in lines if line.startswith("vit-tiny epoch")] == [
        f"vit-tiny epoch {i}" for i in range(1, 11)
    ]
    # 10 classes (chance 0.1); measured 0.85 on these 80 test images after 10 epochs on 320
    assert result.metrics["accuracy"] > 0.5
    assert result.params == vit_params(8, 1, 10) == 69194
    export = export_onnx(spec, data, result, tmp_path, quantize=False, tensorrt=None)
    assert export.parity.label_agreement == 1.0 and export.parity.max_abs_diff < 1e-4
    assert onnx_param_count(export.onnx_path) == result.params


def test_pretrained_vit_from_model_dir_is_resized_normalised_and_exported(
    digits_data: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    from trainer_agent.skills.export.export import export_onnx, onnx_param_count

    saved = tmp_path / "tiny-vit"
    config = ViTConfig(
        image_size=16,
        patch_size=4,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
    )
    ViTForImageClassification(config).save_pretrained(saved)
    processor = ViTImageProcessor(
        size={"height": 16, "width": 16}, image_mean=[0.5] * 3, image_std=[0.25] * 3
    )
    processor.save_pretrained(saved)
    spec, data = digits_data
    run = tmp_path / "run"
    result, lines = _train(spec, data, run, 3, monkeypatch, families=["vit-tiny"], model_dir=saved)
    assert result.family == "vit-tiny" and result.source == "pretrained-local"
    assert f"vit-tiny: pretrained from {saved}" in lines
    assert any(f"weights: pretrained from {saved}" in n for n in result.notes)
    hyper = json.loads((run / "models" / "model.json").read_text())["hyperparameters"]
    assert hyper["hidden"] == 32 and hyper["model_side"] == 16 and hyper["model_channels"] == 3
    losses = [
        float(line.split("loss ")[1].split(",")[0]) for line in lines if line.startswith("vit-tiny epoch")
    ]
    assert len(losses) == 3 and losses[-1] < losses[0]  # a random "pretrained" model: it learns, slowly
    shutil.rmtree(saved)  # the trained model loads from models/model.pt alone
    export = export_onnx(spec, data, result, run, quantize=False, tensorrt=None)
    assert export.parity.label_agreement == 1.0 and export.parity.max_abs_diff < 1e-4
    assert onnx_param_count(export.onnx_path) == result.params


def test_families_that_cannot_run_are_one_sentence(digits_data: tuple, tmp_path: Path) -> None:
    from transformers import BertConfig

    from trainer_agent.skills.model.train import train_model

    spec, data = digits_data
    with pytest.raises(UserError, match="resnet18 needs a pretrained model in --model-dir"):
        train_model(spec, data, tmp_path, families=["resnet18"])
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path / "bert")
    with pytest.raises(UserError, match="is a 'bert' model; the image families take"):
        train_model(spec, data, tmp_path, families=["vit-tiny"], model_dir=tmp_path / "bert")


def test_resnet18_is_skipped_without_a_pretrained_model_under_a_budget(digits_data: tuple) -> None:
    from trainer_agent.skills.model.train_image import _candidates

    cands, left = _candidates(None, 60.0, {})
    assert "vit-tiny" in {c.name for c in cands} and "resnet18" not in {c.name for c in cands}
    assert left[0].name == "resnet18" and "no local pretrained model" in left[0].reason
    assert {c.name for c in _candidates(None, None, {})[0]} == {"pixels-logistic-regression", "small-cnn"}
    assert np.isin(["vit-tiny"], [c.name for c in _candidates(None, None, {"vit-tiny": "x"})[0]]).all()


def test_pretrained_resnet_folds_batch_norm_in_onnx_with_parity(digits_data: tuple, tmp_path: Path) -> None:
    from transformers import ResNetConfig, ResNetForImageClassification

    from trainer_agent.skills.data.image_data import load_arrays
    from trainer_agent.skills.export.image_onnx import image_to_onnx
    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.model.hf_image import build_hf_image
    from trainer_agent.skills.model.image_cnn import count_net_params, fit_image_net, predict_proba_net
    from trainer_agent.skills.model.model_data import labels_of, read_csv

    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    ResNetForImageClassification(config).save_pretrained(tmp_path / "resnet")  # no preprocessor: [0, 1]
    _, data = digits_data
    x = load_arrays(data.train_path, "image", 8, 1)
    y = labels_of(TaskType.IMAGE_CLASSIFICATION, read_csv(data.train_path), "label")
    labels = sorted({str(v) for v in y})
    net = build_hf_image(labels, 8, 1, path=str(tmp_path / "resnet"))
    assert net[1].model_channels == 3 and net[1].model_side == 8 and net[1].mean == []
    model, config = fit_image_net(x, y, 8, 1, epochs=1, net=net)
    info = {
        "task_type": "image_classification",
        "family": "resnet18",
        "framework": "torch",
        "label_column": "label",
    }
    info["inputs"] = [{"name": "image", "column": "image", "kind": "image", "side": 8, "channels": 1}]
    path = tmp_path / "resnet.onnx"
    path.write_bytes(image_to_onnx((model, config), info).SerializeToString())
    folded = sum(m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert onnx_param_count(path) == count_net_params(model) - folded  # 2 per BN channel -> 1 bias
    x_test = load_arrays(data.test_path, "image", 8, 1)
    proba = OnnxPredictor(path).run({"image": x_test})[1]
    assert np.abs(proba - predict_proba_net(model, config, x_test)).max() < 1e-4
