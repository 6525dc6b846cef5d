"""The model families in code: one record per kind of model, naming the catalog families
(configs/models.yaml) it implements and pointing at its operations: fit, save, load, predict and
export to ONNX. This table is the one place that says which families exist in code; callers
(trainers, `skills.model.model_files`, `skills.model.model_card`, `skills.export`) ask it and never
import a family module to branch on a name.

The rule (checked by tests/test_families.py): a *family module* (`FAMILY_MODULES`) implements one
kind and imports no other family module and not this table; what two kinds share is a helper
module (early stopping, net storage, the text nets' config and vocabulary, word pieces, the image
training loop, cross-validation outputs, pipeline storage). Only this table imports them all.

    rec = family("torch-text-bag")             # by catalog name
    net, config = rec.fit(texts, labels, arch="bag")
    path, size = save_model((net, config), "torch", TaskType.TEXT_CLASSIFICATION, Path("models"))
    model = load_model(path, TaskType.TEXT_CLASSIFICATION)
    pred, proba = for_model(TaskType.TEXT_CLASSIFICATION, "torch", model).predict(model, ["good"])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from trainer_agent.skills.export import image_onnx, sklearn_onnx, text_net_onnx
from trainer_agent.skills.model import (
    embed_text,
    ensemble,
    hf_image,
    hf_text,
    image_cnn,
    image_pixels,
    tabular_pipelines,
    text_features,
    torch_text,
)
from trainer_agent.skills.model.image_net_config import ImageNetConfig
from trainer_agent.skills.model.image_training import predict_proba_net
from trainer_agent.skills.model.net_io import load_net, save_net
from trainer_agent.skills.model.pipeline_io import load_joblib, predict_pipeline, save_joblib
from trainer_agent.skills.model.text_net import TextNetConfig, predict_proba
from trainer_agent.skills.specs import TaskType

TEXT = (TaskType.TEXT_CLASSIFICATION,)
TABULAR = (TaskType.TABULAR_CLASSIFICATION, TaskType.TABULAR_REGRESSION)
IMAGE = (TaskType.IMAGE_CLASSIFICATION,)


@dataclass(frozen=True)
class Family:
    """One kind of model and its operations.

    fit: fits (or, for scikit-learn kinds, builds the unfitted pipeline of) the kind's model; its
        arguments are the kind's own (see the function). save(model, path) -> bytes written;
        load(path) -> model; predict(model, x) -> (predictions, class probabilities or None);
        to_onnx(model, info, example) -> the ONNX ModelProto (None: not exported, e.g. teachers).
    A torch kind's model is (net, config); `arches` are the config.arch values it builds with
    `make_net`, which is how a saved net finds its kind again. `refine` and `teacher` only where
    a kind has them (embed-text: fine-tuning the encoder; a frozen-encoder distillation teacher).
    """

    kind: str
    module: str  # the family module implementing it
    tasks: tuple[TaskType, ...]
    framework: str  # sklearn | torch: Trained.framework and model.json's "framework"
    names: tuple[str, ...]  # the catalog families it implements ((): none, e.g. the ensemble)
    fit: Callable[..., Any]
    save: Callable[[Any, Path], int]
    load: Callable[[Path], Any]
    predict: Callable[[Any, Any], tuple[Any, Any]]
    to_onnx: Callable[..., Any] | None
    arches: tuple[str, ...] = ()
    make_net: Callable[[Any], Any] | None = None
    refine: Callable[..., Any] | None = None  # goes on training a fitted model within a time limit
    teacher: Callable[..., Any] | None = None  # a distillation teacher factory (skills.model.distill)
    suffix: str = field(default="")

    def __post_init__(self) -> None:
        if not self.suffix:
            object.__setattr__(self, "suffix", ".pt" if self.framework == "torch" else ".joblib")


def _labels_of(config: Any, proba: Any) -> Any:
    import numpy as np

    return np.asarray(config.labels, dtype=object)[proba.argmax(axis=1)]


def _predict_text_net(model: Any, x: Any) -> tuple[Any, Any]:
    net, config = model
    proba = predict_proba(net, config, list(x))
    return _labels_of(config, proba), proba


def _predict_image_net(model: Any, x: Any) -> tuple[Any, Any]:
    net, config = model
    proba = predict_proba_net(net, config, x)
    return _labels_of(config, proba), proba


def _save_text_net(model: Any, path: Path) -> int:
    return save_net(model[0], model[1], path)


def _save_image_net(model: Any, path: Path) -> int:
    return save_net(model[0], model[1], path, kind="image")


def _text_net_onnx(model: Any, info: dict[str, Any], example: Any = None) -> Any:
    return text_net_onnx.text_net_to_onnx(model[0], model[1], info, example)


def _pipelines(
    kind: str, module: str, tasks: tuple[TaskType, ...], names: tuple[str, ...], **ops: Any
) -> Family:
    """A scikit-learn kind: stored with joblib, predicted by the pipeline's own methods."""
    return Family(
        kind,
        module,
        tasks,
        "sklearn",
        names,
        save=save_joblib,
        load=load_joblib,
        predict=predict_pipeline,
        **ops,
    )


def _text_nets(kind: str, module: str, names: tuple[str, ...], **ops: Any) -> Family:
    """A torch text kind: (net, TextNetConfig), word ids in (`skills.model.text_net`)."""
    return Family(kind, module, TEXT, "torch", names, save=_save_text_net, predict=_predict_text_net, **ops)


def _image_nets(kind: str, module: str, names: tuple[str, ...], **ops: Any) -> Family:
    """A torch image kind: (net, ImageNetConfig), uint8 pixels in (`skills.model.image_training`)."""
    return Family(
        kind, module, IMAGE, "torch", names, save=_save_image_net, predict=_predict_image_net, **ops
    )


FAMILIES: tuple[Family, ...] = (
    _pipelines(
        "tfidf",
        text_features.__name__,
        TEXT,
        ("tfidf-logistic-regression", "tfidf-complement-nb"),
        fit=text_features.text_pipeline,
        to_onnx=sklearn_onnx.convert,
    ),
    _text_nets(
        "torch-text",
        torch_text.__name__,
        ("torch-text-bag", "torch-text-cnn"),
        fit=torch_text.fit_text_net,
        load=torch_text.load_text_net,
        to_onnx=_text_net_onnx,
        arches=torch_text.ARCHS,
        make_net=torch_text.make_net,
    ),
    _text_nets(
        "hf-text",
        hf_text.__name__,
        ("bert-tiny", "minilm", "distilbert"),
        fit=hf_text.fit_transformer_net,
        load=partial(load_net, config_type=TextNetConfig, make=hf_text.transformer_net),
        to_onnx=_text_net_onnx,
        arches=("transformer",),
        make_net=hf_text.transformer_net,
    ),
    _text_nets(
        "embed-text",
        embed_text.__name__,
        ("minilm-embed-linear",),
        fit=embed_text.fit_embed_linear,
        load=partial(load_net, config_type=TextNetConfig, make=embed_text.embed_net),
        to_onnx=_text_net_onnx,
        arches=(embed_text.ARCH,),
        make_net=embed_text.embed_net,
        refine=embed_text.fine_tune_within,
        teacher=embed_text.teacher_factory,
    ),
    _pipelines(
        "tabular",
        tabular_pipelines.__name__,
        TABULAR,
        (
            "logistic-regression",
            "random-forest-classifier",
            "gradient-boosting-classifier",
            "lightgbm-classifier",
            "mlp-classifier",
            "ridge-regression",
            "random-forest-regressor",
            "gradient-boosting-regressor",
            "lightgbm-regressor",
        ),
        fit=tabular_pipelines.pipeline,
        to_onnx=sklearn_onnx.convert,
    ),
    _pipelines(
        "pixels",
        image_pixels.__name__,
        IMAGE,
        ("pixels-logistic-regression",),
        fit=image_pixels.lr_pipeline,
        to_onnx=image_onnx.image_to_onnx,
    ),
    _image_nets(
        "image-cnn",
        image_cnn.__name__,
        ("small-cnn",),
        fit=image_cnn.fit_image_net,
        load=image_cnn.load_image_net,
        to_onnx=image_onnx.image_to_onnx,
        arches=("cnn",),
        make_net=image_cnn.make_image_net,
    ),
    _image_nets(
        "hf-image",
        hf_image.__name__,
        ("vit-tiny", "resnet18"),
        fit=hf_image.fit_hf_image,
        load=partial(load_net, config_type=ImageNetConfig, make=hf_image.hf_image_net),
        to_onnx=image_onnx.image_to_onnx,
        arches=("hf",),
        make_net=hf_image.hf_image_net,
    ),
    _pipelines(
        "ensemble",
        ensemble.__name__,
        TEXT + TABULAR,
        (),
        fit=ensemble.build,
        to_onnx=sklearn_onnx.convert,
    ),
)

_BY_NAME = {name: rec for rec in FAMILIES for name in rec.names}
FAMILY_MODULES = tuple(rec.module for rec in FAMILIES)


def family(name: str) -> Family:
    """The record of a catalog family (a name the catalog check has already accepted)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"No model family '{name}' is implemented; known: {sorted(_BY_NAME)}") from None


def kind(kind_name: str) -> Family:
    return next(rec for rec in FAMILIES if rec.kind == kind_name)


def for_model(task: TaskType | str, framework: str, model: Any = None, arch: str | None = None) -> Family:
    """The record that stores, predicts and exports a fitted model: a torch kind by its net's arch
    (`model[1].arch` or `arch`), else the task's scikit-learn kind (every pipeline, an ensemble
    too, is stored and exported alike)."""
    task = TaskType(task)
    if framework == "torch":
        arch = arch if arch is not None else model[1].arch
        for rec in FAMILIES:
            if rec.framework == "torch" and task in rec.tasks and arch in rec.arches:
                return rec
        raise ValueError(f"No {task.value} net kind builds arch '{arch}'.")
    return next(rec for rec in FAMILIES if rec.framework == "sklearn" and task in rec.tasks)


def save_model(model: Any, framework: str, task: TaskType | str, models: Path) -> tuple[Path, int]:
    """Write models/model.joblib or models/model.pt; (path, bytes)."""
    rec = for_model(task, framework, model)
    path = Path(models) / f"model{rec.suffix}"
    return path, rec.save(model, path)


def load_model(path: str | Path, task: TaskType | str) -> Any:
    """A saved model: a scikit-learn pipeline, or (net, config) for a torch net, whose kind is found
    from the arch in its saved config (one read of the file)."""
    task = TaskType(task)
    if Path(path).suffix != ".pt":
        return for_model(task, "sklearn").load(Path(path))
    config_type: Any = ImageNetConfig if task in IMAGE else TextNetConfig

    def make(config: Any) -> Any:
        build = for_model(task, "torch", arch=config.arch).make_net
        assert build is not None  # every torch kind has one
        return build(config)

    return load_net(path, config_type, make)
