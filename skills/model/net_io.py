"""Saving and loading the torch nets (text and image): one file with the net's config (a
dataclass) and its weights, loaded back on CPU without unpickling code (`weights_only`).

    size = save_net(model, config, "runs/<id>/models/model.pt", kind="image")
    model, config = load_net("runs/<id>/models/model.pt", ImageNetConfig, make_image_net)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


def save_net(model: Any, config: Any, path: str | Path, **extra: str) -> int:
    """Write `config` (a dataclass) and the weights to `path`; its size in bytes."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**extra, "config": asdict(config), "state": model.state_dict()}, path)
    return path.stat().st_size


def load_net(path: str | Path, config_type: Callable[..., C], make: Callable[[C], Any]) -> tuple[Any, C]:
    """The net saved by `save_net`, built by `make(config)`, in eval mode, and its config."""
    import torch

    saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    config = config_type(**saved["config"])
    model = make(config)
    model.load_state_dict(saved["state"])
    model.eval()
    return model, config


def count_net_params(model: Any) -> int:
    """The learned numbers of a torch net (every parameter tensor's size)."""
    return int(sum(p.numel() for p in model.parameters()))


def quantize_net(model: Any) -> Any:
    """A dynamic int8 copy (torch.ao): Linear weights stored as int8, activations quantized per batch."""
    import torch

    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
