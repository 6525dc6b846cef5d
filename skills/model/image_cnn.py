"""The image nets' training and storage: the small CNN (and the loop the transformers image nets of
`skills.model.hf_image` share), on uint8 pixels [n, side, side, channels] scaled to [0, 1].

The CNN's recipe (`skills.model.image_recipe`): shifted training images, batch norm during training
(folded into the convolutions at the end, so the delivered net is plain convolutions and every
exported number is a parameter), AdamW with weight decay, warm-up then cosine decay sized to the
epoch count, early stopping on a held-back 10% keeping the best epoch.

Reproducible: the same data, seed and `epochs` give the same weights whatever the machine's load;
the clock only stops training when `time_limit_s` is given, and then the history says so
(`skills.model.early_stopping.time_cut`).

    net, config = fit_image_net(x, y, side=8, channels=1, epochs=30)
    proba = predict_proba_net(net, config, x_test)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.early_stopping import train_epochs
from trainer_agent.skills.model.image_net_config import CNN_WIDTHS, ImageNetConfig
from trainer_agent.skills.model.image_recipe import Progress, augment, shift_for, warmup_cosine
from trainer_agent.skills.model.net_io import load_net, save_net

EPOCHS = 30  # the default cap; early stopping usually ends sooner
PATIENCE = 8  # epochs without a better validation accuracy (the cosine decay climbs late)
LR, WEIGHT_DECAY = 3e-3, 5e-4


def cnn_params(side: int, channels: int, classes: int, widths: tuple[int, ...]) -> int:
    total, c = 0, channels
    for w in widths:
        total += 9 * c * w + w
        c = w
    cells = (side // 2 ** (len(widths) - 1)) ** 2
    k = max(2, classes)
    return total + c * cells * k + k


def make_image_net(config: ImageNetConfig, batch_norm: bool = False) -> Any:
    """pixels float [n, channels, side, side] in [0, 1] -> class probabilities [n, k].

    3x3 convolutions with ReLU, 2x2 max-pooling between them, then one linear layer over the
    flattened maps. `batch_norm` (training only) puts batch norm after each convolution;
    `fold_batch_norm` turns such a net into the plain one. Arch "hf": the transformers net of
    `skills.model.hf_image` (same input and outputs)."""
    import torch
    from torch import nn

    if config.arch == "hf":
        from trainer_agent.skills.model.hf_image import hf_image_net

        return hf_image_net(config)

    n_out = max(2, len(config.labels))

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            c = config.channels
            for i, w in enumerate(config.widths):
                layers.append(nn.Conv2d(c, w, kernel_size=3, padding=1, bias=not batch_norm))
                layers += [nn.BatchNorm2d(w), nn.ReLU()] if batch_norm else [nn.ReLU()]
                if i < len(config.widths) - 1:
                    layers.append(nn.MaxPool2d(2))
                c = w
            self.features = nn.Sequential(*layers)
            self.dropout = nn.Dropout(0.25)
            cells = (config.side // 2 ** (len(config.widths) - 1)) ** 2
            self.out = nn.Linear(c * cells, n_out)

        def logits(self, x: Any) -> Any:
            return self.out(self.dropout(torch.flatten(self.features(x), 1)))

        def forward(self, x: Any) -> Any:
            return torch.softmax(self.logits(x), dim=-1)

    return SmallCNN()


def fold_batch_norm(model: Any, config: ImageNetConfig) -> Any:
    """The plain CNN computing what `model` (built with batch norm, in eval mode) computes."""
    import torch
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    plain = make_image_net(config)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    targets = [m for m in plain.features if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for conv, norm, target in zip(convs, norms, targets, strict=True):
            fused = fuse_conv_bn_eval(conv.eval(), norm.eval())
            target.weight.copy_(fused.weight)
            assert target.bias is not None and fused.bias is not None  # the fold always gives a bias
            target.bias.copy_(fused.bias)
    plain.out.load_state_dict(model.out.state_dict())
    return plain.eval()


def _tensor(x: Any) -> Any:
    import torch

    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)


@contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic torch kernels for the block (cheap on CPU), the previous setting restored."""
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def fit_image_net(
    x: Any,
    y: Any,
    side: int,
    channels: int,
    widths: tuple[int, ...] = CNN_WIDTHS[0],
    epochs: int = EPOCHS,
    batch_size: int = 64,
    lr: float = LR,
    patience: int = PATIENCE,
    val_frac: float = 0.1,
    seed: int = 0,
    progress: Callable[[dict[str, float]], None] | None = None,
    time_limit_s: float | None = None,
    net: tuple[Any, ImageNetConfig] | None = None,
    shift: int | None = None,
    flip: bool = False,
    batch_norm: bool = True,
    weight_decay: float = WEIGHT_DECAY,
    schedule: bool = True,
) -> tuple[Any, ImageNetConfig]:
    """Train on uint8 pixels [n, side, side, channels]; stop early when the held-back validation
    accuracy has not improved for `patience` epochs (with `schedule`, not before three quarters of
    `epochs`: validation is noisy while the rate is high) and keep the best epoch.

    Args:
        epochs: the most epochs; the learning-rate schedule is sized to it.
        time_limit_s: wall-clock seconds after which training stops (a cut the history records);
            None: only `epochs` and early stopping end it, so the result does not depend on load.
        net: a built (model, config) to train instead of a new CNN (`skills.model.hf_image`).
        shift: the largest random shift of a training image in pixels (None: `shift_for(side)`,
            0: no augmentation); flip: also mirror half the training images left-right.
        batch_norm: batch norm after each convolution while training (folded in at the end).
        schedule: warm-up then cosine decay of the learning rate (False: constant `lr`).
    """
    import numpy as np
    import torch

    torch.manual_seed(seed)  # weight init and dropout
    gen = torch.Generator().manual_seed(seed)  # augmentation
    rng = np.random.default_rng(seed)  # split and shuffling
    classes = sorted({str(v) for v in y})
    target = torch.tensor([classes.index(str(v)) for v in y], dtype=torch.long)
    norm = batch_norm and net is None
    if net is not None:
        model, config = net
    else:
        config = ImageNetConfig(labels=classes, side=side, channels=channels, widths=list(widths))
        model = make_image_net(config, batch_norm=norm)
    shift = shift_for(side) if shift is None else shift
    min_epochs = (3 * epochs) // 4 if schedule else 0
    config.recipe = {
        "shift": shift,
        "flip": flip,
        "batch_norm": norm,
        "lr": lr,
        "weight_decay": weight_decay,
        "schedule": "warm-up + cosine" if schedule else "constant",
        "max_epochs": epochs,
        "patience": patience,
        "min_epochs": min_epochs,
        "seed": seed,
    }
    pixels = _tensor(np.ascontiguousarray(x))
    order = rng.permutation(len(x))
    n_val = max(1, int(len(x) * val_frac)) if len(x) >= 20 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = -(-len(train_idx) // batch_size)
    done = Progress(steps * epochs, time_limit_s)

    def one_epoch() -> float:
        perm = rng.permutation(train_idx)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            rows = torch.from_numpy(perm[i : i + batch_size])
            batch = augment(pixels[rows], gen, shift, flip) if shift or flip else pixels[rows]
            if schedule:
                for group in opt.param_groups:
                    group["lr"] = lr * warmup_cosine(done())
            loss = torch.nn.functional.cross_entropy(model.logits(batch), target[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done.step += 1
            total += float(loss.detach()) * len(rows)
        return total / max(1, len(perm))

    def val_accuracy() -> float:
        pred = _proba(model, pixels[torch.from_numpy(val_idx)]).argmax(axis=1)
        return float(np.mean(pred == target[val_idx].numpy()))

    with _deterministic():
        train_epochs(
            model,
            epochs,
            one_epoch,
            val_accuracy if n_val else None,
            patience,
            config.history,
            progress,
            time_limit_s,
            min_epochs=min_epochs,
        )
    if norm:
        model = fold_batch_norm(model, config)
    return model, config


def _proba(model: Any, pixels: Any, batch_size: int = 512) -> Any:
    import numpy as np
    import torch

    model.eval()
    with torch.inference_mode():
        out = [model(pixels[i : i + batch_size]).numpy() for i in range(0, len(pixels), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


def predict_proba_net(model: Any, config: ImageNetConfig, x: Any) -> Any:
    """Class probabilities [n, len(labels)] of uint8 pixels [n, side, side, channels]."""
    import numpy as np

    return _proba(model, _tensor(np.ascontiguousarray(x)))


def save_image_net(model: Any, config: ImageNetConfig, path: str | Path) -> int:
    return save_net(model, config, path, kind="image")


def load_image_net(path: str | Path) -> tuple[Any, ImageNetConfig]:
    return load_net(path, ImageNetConfig, make_image_net)


def count_net_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))
