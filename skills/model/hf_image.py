"""Transformers image classifiers as candidates of the image selection (`skills.model.train_image`):
pretrained from a local directory (`--model-dir`, $TRAINER_AGENT_MODELS/<family>, the HF cache; see
`skills.model.model_catalog.resolve_pretrained`), else, for a family with a from-scratch recipe
(`vit-tiny`), a small ViT built from the catalog's config. Nothing is downloaded: training runs
in a sandbox without network.

The net takes what small-cnn takes: float pixels [n, channels, side, side] in [0, 1] at the data's
side. Inside `logits` it turns them into what the transformers model wants, with torch ops that the
ONNX export traces (so the graph does the same): gray -> 3 channels (or RGB -> gray), bilinear
resize to the model's image size, and the image processor's mean/std (preprocessor_config.json).
Saved as a state dict plus the model's config dict (`ImageNetConfig.hf_config`), so loading needs
neither the pretrained directory nor transformers' hub code.

    net, config = build_hf_image(labels, side=8, channels=1, path=None, scratch={"hidden_size": 64})
    net(pixels)  # -> class probabilities [n, len(labels)]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.image_net_config import ImageNetConfig
from trainer_agent.skills.model.image_training import train_image_net
from trainer_agent.skills.model.model_library import SCRATCH_SOURCE as SCRATCH_SOURCE  # its sources say so

# a small ViT: 4x4 patches, hidden 64, 2 layers, 4 heads (the catalog entry's config overrides it);
# 4x4 patches learn faster than 2x2 ones even on 8x8 digits (0.96 vs 0.88 test accuracy, measured)
SCRATCH_CONFIG: dict[str, Any] = {
    "patch_size": 4,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
}
MODEL_TYPES_KEY = "model_types"  # catalog config: the transformers model types a family accepts
LUMA = (0.299, 0.587, 0.114)  # PIL's RGB -> L weights, for a gray model fed RGB pixels
EPOCHS, PATIENCE = 60, 8  # a ViT from scratch climbs unevenly
LR_SCRATCH, LR_PRETRAINED = 5e-4, 1e-4
WEIGHT_DECAY = 5e-4  # as the small CNN's


def vit_params(side: int, channels: int, classes: int, config: dict[str, Any] | None = None) -> int:
    """Parameters of the from-scratch ViT classifier (for the catalog formula and checks)."""
    c = {**SCRATCH_CONFIG, **(config or {})}
    h, i, n = int(c["hidden_size"]), int(c["intermediate_size"]), int(c["num_hidden_layers"])
    p = int(c["patch_size"])
    size = -(-side // p) * p
    k = max(2, classes)
    layer = 4 * (h * h + h) + 4 * h + (h * i + i) + (i * h + h)
    embed = h + ((size // p) ** 2 + 1) * h + channels * p * p * h + h
    return n * layer + embed + 2 * h + h * k + k


def read_preprocessor(path: str | Path) -> tuple[list[float], list[float], int | None]:
    """(mean, std, size) from a saved image processor's preprocessor_config.json (empty, None when
    there is none or it does not normalise)."""
    file = Path(path) / "preprocessor_config.json"
    if not file.is_file():
        return [], [], None
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{file} is not a readable JSON file: {err}") from None
    mean, std = raw.get("image_mean") or [], raw.get("image_std") or []
    if raw.get("do_normalize") is False or len(mean) != len(std):
        mean, std = [], []
    size: int | None = None
    for key in ("crop_size", "size"):
        v = raw.get(key)
        if isinstance(v, int):
            size = v
        elif isinstance(v, dict):
            size = v.get("height") or v.get("shortest_edge")
        if size:
            break
    return [float(m) for m in mean], [float(s) for s in std], (int(size) if size else None)


def model_type_of(path: str | Path) -> str:
    file = Path(path) / "config.json"
    try:
        return str(json.loads(file.read_text(encoding="utf-8")).get("model_type", ""))
    except (OSError, ValueError) as err:
        raise UserError(f"{file} is not a readable transformers config: {err}") from None


def _plain_config(hf_config: Any) -> dict[str, Any]:
    """The transformers config as plain JSON types (saved with the weights; torch.load's
    weights_only mode reads only such types)."""
    return json.loads(hf_config.to_json_string(use_diff=False))


def _rebuild(hf_config: dict[str, Any]) -> Any:
    """A transformers image classifier (random weights) from a saved config dict."""
    from transformers import AutoConfig, AutoModelForImageClassification

    raw = dict(hf_config)
    cfg = AutoConfig.for_model(raw.pop("model_type"), **raw)
    cfg._attn_implementation = "eager"  # traced into plain MatMul/Softmax for ONNX
    return AutoModelForImageClassification.from_config(cfg)


def hf_image_net(config: Any, hf_model: Any = None) -> Any:
    """The net of an `ImageNetConfig` with arch "hf": float [n, channels, side, side] in [0, 1] ->
    class probabilities (`forward`) or logits (`logits`), as `skills.model.image_cnn.make_image_net`."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    model = hf_model if hf_model is not None else _rebuild(config.hf_config)
    mean, std = list(config.mean), list(config.std)
    size, want = int(config.model_side), int(config.model_channels)

    class HFImageNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = model

        def prepare(self, x: Any) -> Any:
            if want == 3 and x.shape[1] == 1:
                x = torch.cat([x, x, x], dim=1)
            elif want == 1 and x.shape[1] == 3:
                x = x[:, 0:1] * LUMA[0] + x[:, 1:2] * LUMA[1] + x[:, 2:3] * LUMA[2]
            if x.shape[-1] != size or x.shape[-2] != size:
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            if mean:  # per channel, with scalar constants (not tensors the export would store)
                x = torch.cat([(x[:, c : c + 1] - mean[c]) / std[c] for c in range(len(mean))], dim=1)
            return x

        def logits(self, x: Any) -> Any:
            return self.hf(pixel_values=self.prepare(x)).logits

        def forward(self, x: Any) -> Any:
            return torch.softmax(self.logits(x), dim=-1)

    return HFImageNet()


def build_hf_image(
    labels: list[str],
    side: int,
    channels: int,
    path: str | None = None,
    source: str = "",
    scratch: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """(net, ImageNetConfig): the transformers classifier saved in `path` with a new head of
    len(labels) classes, or a ViT from scratch with `scratch` (the catalog's config)."""
    from transformers import AutoModelForImageClassification, ViTConfig, ViTForImageClassification

    labels = [str(v) for v in labels]
    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    k = max(2, len(labels))
    if path is not None:
        try:
            heads: dict[str, Any] = (
                {"id2label": id2label, "label2id": label2id} if len(labels) >= 2 else {"num_labels": k}
            )
            hf = AutoModelForImageClassification.from_pretrained(
                path, ignore_mismatched_sizes=True, attn_implementation="eager", **heads
            )
        except (OSError, ValueError, KeyError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"No transformers image classifier could be loaded from {path}: {first}"
            ) from None
        mean, std, pre_size = read_preprocessor(path)
        cfg = hf.config
        want = int(getattr(cfg, "num_channels", 3) or 3)
        image_size = getattr(cfg, "image_size", None)
        model_side = int(image_size if isinstance(image_size, int) else pre_size or side)
        if mean and len(mean) != want:
            mean, std = [], []  # a processor that does not fit the model: leave pixels in [0, 1]
        desc = f"pretrained from {path}"
    else:
        conf = {k: v for k, v in {**SCRATCH_CONFIG, **(scratch or {})}.items() if k != MODEL_TYPES_KEY}
        p = int(conf["patch_size"])
        model_side, want, mean, std = -(-side // p) * p, channels, [], []
        vit = ViTConfig(  # type: ignore[call-arg]
            image_size=model_side,
            num_channels=channels,
            num_labels=k,
            id2label=id2label if len(labels) >= 2 else None,
            label2id=label2id if len(labels) >= 2 else None,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            **conf,
        )
        vit._attn_implementation = "eager"
        hf = ViTForImageClassification(vit)
        desc = SCRATCH_SOURCE
    config = ImageNetConfig(
        labels=list(labels),
        side=side,
        channels=channels,
        widths=[],
        arch="hf",
        hf_config=_plain_config(hf.config),
        model_side=model_side,
        model_channels=want,
        mean=mean,
        std=std,
        source=desc,
    )
    return hf_image_net(config, hf), config


def fit_hf_image(
    x: Any,
    y: Any,
    side: int,
    channels: int,
    path: str | None = None,
    scratch: dict[str, Any] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: Callable[[dict[str, float]], None] | None = None,
    time_limit_s: float | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> tuple[Any, Any]:
    """Build the classifier (`build_hf_image`: pretrained from `path`, else from scratch with
    `scratch`) and fine-tune it on uint8 pixels with the image nets' shared loop
    (`skills.model.image_training`): a constant rate (lower for pretrained weights), no shifted
    images (the CNN's recipe is measured on the CNN only), early stopping. `say` gets the source."""
    import torch

    torch.manual_seed(seed)  # the new weights (head, or all from scratch) are reproducible
    net = build_hf_image(sorted({str(v) for v in y}), side, channels, path=path, scratch=scratch)
    say(net[1].source)
    return train_image_net(
        x,
        y,
        lambda classes: net,
        epochs=epochs or EPOCHS,
        lr=LR_PRETRAINED if path else LR_SCRATCH,
        patience=PATIENCE,
        weight_decay=WEIGHT_DECAY,
        seed=seed,
        progress=progress,
        time_limit_s=time_limit_s,
        shift=0,
        schedule=False,
    )


def family_for_dir(path: str | Path, cands: list[Any]) -> Any:
    """The catalog family (an hf candidate) whose `model_types` include the saved model's type."""
    kind = model_type_of(path)
    for cand in cands:
        if kind in cand.config.get(MODEL_TYPES_KEY, ()):
            return cand
    known = sorted({t for c in cands for t in c.config.get(MODEL_TYPES_KEY, ())})
    raise UserError(
        f"The model in {path} is a '{kind}' model; the image families take transformers models of "
        f"type {', '.join(known)}."
    )
