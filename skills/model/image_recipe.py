"""The image CNN's training recipe (`skills.model.image_cnn.fit_image_net`): augmentation of the training
batches and the learning-rate schedule.

Augmentation: each image shifted by up to `shift_for(side)` pixels in each direction (edge pixels
repeated, so a black background stays black and a photo's border is extended), and, only when asked
(`flip=True`), mirrored left-right with probability 1/2. Flipping is off by default and nothing in
the search turns it on: it turns a digit or a letter into another shape (a mirrored 2 is no digit),
and deciding it on validation would mean a second training; where a caller knows the classes are
mirror-symmetric (clothing, animals) it can ask for it. Every random draw comes from the
`torch.Generator` given, so a seed gives the same batches on any machine.

Schedule: linear warm-up over the first WARMUP_FRAC of the steps, then cosine to zero at the last
step (`warmup_cosine`); under a time limit the progress is the larger of the steps done and the
time used (`Progress`), so a run cut by the clock ends annealed, not at its peak rate.

    gen = torch.Generator().manual_seed(0)
    batch = augment(pixels[rows], gen, shift=shift_for(28), flip=False)
    lr = peak * warmup_cosine(progress())
"""

from __future__ import annotations

import math
import time
from typing import Any

WARMUP_FRAC = 0.05


def shift_for(side: int) -> int:
    """The largest shift in pixels: 1 px up to 31x31, 2 at 32x32 (on 3,000 clothing images at 28x28
    a 1 px shift gave 0.864 held-out accuracy, 2 px 0.853: the items fill the frame)."""
    return max(1, side // 16)


def augment(batch: Any, gen: Any, shift: int, flip: bool = False) -> Any:
    """Randomly shifted (and, with `flip`, mirrored) copies of a float batch [n, c, side, side].

    One gather per batch: row and column indices shifted per image and clamped to the border."""
    import torch

    n, _, h, w = batch.shape
    dy = torch.randint(-shift, shift + 1, (n, 1), generator=gen)
    dx = torch.randint(-shift, shift + 1, (n, 1), generator=gen)
    rows = (torch.arange(h)[None, :] + dy).clamp_(0, h - 1)  # [n, h]
    cols = (torch.arange(w)[None, :] + dx).clamp_(0, w - 1)  # [n, w]
    if flip:
        mirror = torch.rand((n, 1), generator=gen) < 0.5
        cols = torch.where(mirror, w - 1 - cols, cols)
    index = torch.arange(n)[:, None, None]
    # advanced indexing on dims 0, 2, 3 puts them first: [n, h, w, c] -> back to [n, c, h, w]
    return batch[index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def warmup_cosine(progress: float) -> float:
    """The learning-rate factor at `progress` in [0, 1] of the training."""
    p = min(1.0, max(0.0, progress))
    if p < WARMUP_FRAC:
        return max(p / WARMUP_FRAC, 0.01)
    return 0.5 * (1.0 + math.cos(math.pi * (p - WARMUP_FRAC) / (1.0 - WARMUP_FRAC)))


class Progress:
    """Where the training is, in [0, 1]: steps done over the planned steps, or, under a time
    limit, the share of the time used when that is larger."""

    def __init__(self, total_steps: int, time_limit_s: float | None = None) -> None:
        self.total, self.limit, self.step = max(1, total_steps), time_limit_s, 0
        self.start = time.perf_counter()

    def __call__(self) -> float:
        done = self.step / self.total
        if self.limit:
            done = max(done, (time.perf_counter() - self.start) / self.limit)
        return min(1.0, done)
