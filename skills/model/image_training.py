"""The training loop and prediction the image nets share (the small CNN of `skills.model.image_cnn`,
the transformers classifiers of `skills.model.hf_image`), on uint8 pixels [n, side, side, channels]
scaled to [0, 1]: shifted training images (`skills.model.image_recipe`), AdamW with weight decay,
warm-up then cosine decay sized to the epoch count, early stopping on a held-back 10% keeping the
best epoch. A helper, not a model family.

Reproducible: the same data, seed and `epochs` give the same weights whatever the machine's load;
the clock only stops training when `time_limit_s` is given, and then the history says so
(`skills.model.early_stopping.time_cut`).

    net, config = train_image_net(x, y, lambda classes: build(classes), epochs=30, lr=3e-3,
                                  patience=8, weight_decay=5e-4)
    proba = predict_proba_net(net, config, x_test)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from trainer_agent.skills.model.early_stopping import train_epochs
from trainer_agent.skills.model.image_net_config import ImageNetConfig
from trainer_agent.skills.model.image_recipe import Progress, augment, shift_for, warmup_cosine


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


def train_image_net(
    x: Any,
    y: Any,
    make: Callable[[list[str]], tuple[Any, ImageNetConfig]],
    epochs: int,
    lr: float,
    patience: int,
    weight_decay: float,
    batch_size: int = 64,
    val_frac: float = 0.1,
    seed: int = 0,
    progress: Callable[[dict[str, float]], None] | None = None,
    time_limit_s: float | None = None,
    shift: int | None = None,
    flip: bool = False,
    batch_norm: bool = False,
    schedule: bool = True,
) -> tuple[Any, ImageNetConfig]:
    """Train the net `make(classes)` builds (after seeding, so its initial weights are reproducible)
    on uint8 pixels [n, side, side, channels]; stop early when the held-back validation accuracy has
    not improved for `patience` epochs (with `schedule`, not before three quarters of `epochs`:
    validation is noisy while the rate is high) and keep the best epoch.

    Args:
        epochs: the most epochs; the learning-rate schedule is sized to it.
        time_limit_s: wall-clock seconds after which training stops (a cut the history records);
            None: only `epochs` and early stopping end it, so the result does not depend on load.
        shift: the largest random shift of a training image in pixels (None: `shift_for(side)`,
            0: no augmentation); flip: also mirror half the training images left-right.
        batch_norm: recorded in the recipe (the net was built with batch norm to fold later).
        schedule: warm-up then cosine decay of the learning rate (False: constant `lr`).
    """
    import numpy as np
    import torch

    torch.manual_seed(seed)  # weight init and dropout
    gen = torch.Generator().manual_seed(seed)  # augmentation
    rng = np.random.default_rng(seed)  # split and shuffling
    classes = sorted({str(v) for v in y})
    target = torch.tensor([classes.index(str(v)) for v in y], dtype=torch.long)
    model, config = make(classes)
    shift = shift_for(config.side) if shift is None else shift
    min_epochs = (3 * epochs) // 4 if schedule else 0
    config.recipe = {
        "shift": shift,
        "flip": flip,
        "batch_norm": batch_norm,
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
