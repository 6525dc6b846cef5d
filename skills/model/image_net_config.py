"""A saved image net's configuration (the small CNN of `skills.model.image_cnn` or a transformers
classifier of `skills.model.hf_image`): loading rebuilds the net from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CNN_WIDTHS = ((16, 32, 64), (8, 16, 32), (4, 8, 16))  # tried in turn until the parameter limit holds


@dataclass
class ImageNetConfig:
    """Saved next to the weights; loading rebuilds the net from it."""

    labels: list[str]
    side: int
    channels: int
    widths: list[int] = field(default_factory=lambda: list(CNN_WIDTHS[0]))
    history: list[dict[str, float]] = field(default_factory=list)
    # arch "hf": a transformers classifier (`skills.model.hf_image`) rebuilt from `hf_config`; it resizes
    # to model_side, converts to model_channels and normalises with mean/std inside the net
    arch: str = "cnn"
    hf_config: dict[str, Any] = field(default_factory=dict)
    model_side: int = 0
    model_channels: int = 0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    source: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)  # how it was trained (shift, flip, lr, ...)


def cnn_params(side: int, channels: int, classes: int, widths: tuple[int, ...]) -> int:
    """Parameters of the small CNN (`skills.model.image_cnn`) with these widths, after the batch-norm fold."""
    total, c = 0, channels
    for w in widths:
        total += 9 * c * w + w
        c = w
    cells = (side // 2 ** (len(widths) - 1)) ** 2
    k = max(2, classes)
    return total + c * cells * k + k
