"""The small CNN image family: its net, training and storage, on uint8 pixels [n, side, side, channels]
scaled to [0, 1]; the training loop and prediction are the image nets' shared helper
(`skills.model.image_training`).

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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.image_net_config import CNN_WIDTHS, ImageNetConfig
from trainer_agent.skills.model.image_net_config import cnn_params as cnn_params
from trainer_agent.skills.model.image_training import predict_proba_net as predict_proba_net
from trainer_agent.skills.model.image_training import train_image_net
from trainer_agent.skills.model.net_io import count_net_params as count_net_params
from trainer_agent.skills.model.net_io import load_net, save_net

EPOCHS = 30  # the default cap; early stopping usually ends sooner
PATIENCE = 8  # epochs without a better validation accuracy (the cosine decay climbs late)
LR, WEIGHT_DECAY = 3e-3, 5e-4


def make_image_net(config: ImageNetConfig, batch_norm: bool = False) -> Any:
    """pixels float [n, channels, side, side] in [0, 1] -> class probabilities [n, k].

    3x3 convolutions with ReLU, 2x2 max-pooling between them, then one linear layer over the
    flattened maps. `batch_norm` (training only) puts batch norm after each convolution;
    `fold_batch_norm` turns such a net into the plain one."""
    import torch
    from torch import nn

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


def fit_image_net(
    x: Any,
    y: Any,
    side: int,
    channels: int,
    widths: tuple[int, ...] = CNN_WIDTHS[0],
    epochs: int | None = None,
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
    """Train the small CNN (or the built `net`) on uint8 pixels [n, side, side, channels] with the
    shared loop (`skills.model.image_training.train_image_net`): stop early when the held-back
    validation accuracy has not improved for `patience` epochs (with `schedule`, not before three
    quarters of `epochs`) and keep the best epoch; batch norm is folded in at the end.

    Args:
        epochs: the most epochs (None: `EPOCHS`); the learning-rate schedule is sized to it.
        time_limit_s: wall-clock seconds after which training stops (a cut the history records);
            None: only `epochs` and early stopping end it, so the result does not depend on load.
        net: a built (model, config) to train instead of a new CNN (`skills.model.hf_image`).
        shift: the largest random shift of a training image in pixels (None: `shift_for(side)`,
            0: no augmentation); flip: also mirror half the training images left-right.
        batch_norm: batch norm after each convolution while training (folded in at the end).
        schedule: warm-up then cosine decay of the learning rate (False: constant `lr`).
    """
    norm = batch_norm and net is None

    def make(classes: list[str]) -> tuple[Any, ImageNetConfig]:
        if net is not None:
            return net
        config = ImageNetConfig(labels=classes, side=side, channels=channels, widths=list(widths))
        return make_image_net(config, batch_norm=norm), config

    model, config = train_image_net(
        x,
        y,
        make,
        epochs=epochs or EPOCHS,
        lr=lr,
        patience=patience,
        weight_decay=weight_decay,
        batch_size=batch_size,
        val_frac=val_frac,
        seed=seed,
        progress=progress,
        time_limit_s=time_limit_s,
        shift=shift,
        flip=flip,
        batch_norm=norm,
        schedule=schedule,
    )
    if norm:
        model = fold_batch_norm(model, config)
    return model, config


def save_image_net(model: Any, config: ImageNetConfig, path: str | Path) -> int:
    return save_net(model, config, path, kind="image")


def load_image_net(path: str | Path) -> tuple[Any, ImageNetConfig]:
    return load_net(path, ImageNetConfig, make_image_net)
