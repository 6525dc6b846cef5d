"""The image CNN's recipe (`skills.model.image_cnn`, `skills.model.image_recipe`) on scikit-learn's digits in
memory: the same seed and epochs give the same net, augmentation and batch norm leave the exported
interface and the parameter count as they were, and `max_epochs` rules the clock out of training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType


@pytest.fixture(scope="module")
def digits() -> tuple:
    """300 training and 100 test digits as uint8 [n, 8, 8, 1], labels as strings."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * 255 / 16).round().astype(np.uint8)[..., None]
    y = d.target.astype(str)
    return x[:300], y[:300], x[300:400], y[300:400]


def test_same_seed_and_epochs_give_identical_predictions(digits: tuple) -> None:
    from trainer_agent.skills.model.image_cnn import fit_image_net, predict_proba_net

    x, y, x_test, _ = digits
    runs = [fit_image_net(x, y, 8, 1, epochs=3, patience=99, seed=s, flip=True) for s in (7, 7, 8)]
    probas = [predict_proba_net(net, config, x_test) for net, config in runs]
    assert np.array_equal(probas[0], probas[1])  # bit for bit
    assert [h["epoch"] for h in runs[0][1].history] == [1, 2, 3]
    assert runs[0][1].history == runs[1][1].history
    assert not np.array_equal(probas[0], probas[2])  # the seed does change the net
    assert runs[0][1].recipe["shift"] == 1 and runs[0][1].recipe["batch_norm"] is True


def test_augmented_net_exports_the_same_interface_with_parity(digits: tuple, tmp_path: Path) -> None:
    from onnx import TensorProto

    from trainer_agent.skills.export.export import onnx_param_count
    from trainer_agent.skills.export.image_onnx import image_to_onnx
    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.model.image_cnn import (
        cnn_params,
        count_net_params,
        fit_image_net,
        predict_proba_net,
    )

    x, y, x_test, _ = digits
    net, config = fit_image_net(x, y, 8, 1, epochs=2, shift=2, flip=True)
    assert not any("BatchNorm" in type(m).__name__ for m in net.modules())  # folded in
    assert count_net_params(net) == cnn_params(8, 1, 10, tuple(config.widths))
    info = {"task_type": "image_classification", "family": "small-cnn", "framework": "torch"}
    info |= {"label_column": "label"}
    info["inputs"] = [{"name": "image", "column": "image", "kind": "image", "side": 8, "channels": 1}]
    onx = image_to_onnx((net, config), info)
    (image,) = onx.graph.input
    assert image.name == "image" and image.type.tensor_type.elem_type == TensorProto.UINT8
    dims = [d.dim_value or d.dim_param or None for d in image.type.tensor_type.shape.dim]
    assert dims[1:] == [8, 8, 1]
    assert [o.name for o in onx.graph.output] == ["label", "probabilities"]
    path = tmp_path / "cnn.onnx"
    path.write_bytes(onx.SerializeToString())
    assert onnx_param_count(path) == count_net_params(net)
    labels, proba = OnnxPredictor(path).run({"image": x_test})
    ref = predict_proba_net(net, config, x_test)
    assert np.abs(proba - ref).max() < 1e-4
    assert (labels == np.asarray(config.labels)[ref.argmax(axis=1)]).all()


def test_folding_batch_norm_keeps_the_outputs() -> None:
    import torch

    from trainer_agent.skills.model.image_cnn import fold_batch_norm, make_image_net
    from trainer_agent.skills.model.image_net_config import ImageNetConfig

    config = ImageNetConfig(labels=list("abc"), side=8, channels=3)
    torch.manual_seed(0)
    net = make_image_net(config, batch_norm=True)
    for m in net.modules():  # statistics and scales far from the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 2)
    net.eval()
    pixels = torch.rand(5, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(net(pixels), fold_batch_norm(net, config)(pixels), atol=1e-5)


def test_augment_shifts_within_the_image_reproducibly() -> None:
    import torch

    from trainer_agent.skills.model.image_recipe import augment, warmup_cosine

    batch = torch.rand(6, 1, 8, 8)
    a = augment(batch, torch.Generator().manual_seed(1), shift=1, flip=True)
    b = augment(batch, torch.Generator().manual_seed(1), shift=1, flip=True)
    assert a.shape == batch.shape and torch.equal(a, b)
    assert set(a[0].flatten().tolist()) <= set(batch[0].flatten().tolist())  # pixels moved, not made
    assert torch.equal(augment(batch, torch.Generator(), shift=0), batch)
    assert warmup_cosine(0.0) < 0.5 and warmup_cosine(0.05) == pytest.approx(1.0)
    assert warmup_cosine(1.0) == pytest.approx(0.0) and warmup_cosine(0.5) > warmup_cosine(0.7)


def test_max_epochs_is_exact_under_a_budget_and_a_cut_is_reported_without_it(digits: tuple) -> None:
    from trainer_agent.skills.model.train_image import train

    x, y, _, _ = digits
    spec = TaskSpec(
        request="digits",
        task_type=TaskType.IMAGE_CLASSIFICATION,
        label_column="label",
        requirements=[Requirement(name="accuracy", op=">=", target=0.5)],
    )

    def fit(max_epochs: int | None) -> object:
        info = {"inputs": [{"column": "image"}]}
        tiny_budget = 1e-3  # seconds: any clock stops training after the first epoch
        return train(
            spec, x, y, 8, 1, info, 0, tiny_budget, ["small-cnn"], lambda _: None, max_epochs=max_epochs
        )

    exact = fit(max_epochs=2)
    assert [h["epoch"] for h in exact.history] == [1, 2] and "cut" not in exact.hyper  # type: ignore[attr-defined]
    assert exact.hyper["recipe"]["max_epochs"] == 2  # type: ignore[attr-defined]
    cut = fit(max_epochs=None)
    assert len(cut.history) == 1 and "time share" in cut.hyper["cut"]  # type: ignore[attr-defined]
    assert any("cut the search short" in n for n in cut.notes)  # type: ignore[attr-defined]
