"""The epoch loop the torch nets share (text nets, image CNN, small ViT): train an epoch, score the
held-back validation rows, stop when they have not improved for `patience` epochs or the time is
up, and keep the best epoch's weights.

    def one_epoch() -> float: ...            # trains on every batch, returns the mean loss
    history = train_epochs(model, 15, one_epoch, lambda: val_accuracy(model), patience=2)
    history  # [{"epoch": 1, "train_loss": 0.61, "val_accuracy": 0.74}, ...]; model holds the best epoch
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

TIME_CUT = "time_cut_s"  # on the last history entry when the time limit stopped the loop


def time_cut(history: list[dict[str, float]]) -> str | None:
    """One phrase when the time limit, not early stopping or the epoch cap, ended training."""
    if not history or TIME_CUT not in history[-1]:
        return None
    last, n = history[-1], len(history)
    best = max(h.get("val_accuracy", float("-inf")) for h in history)
    improving = "val_accuracy" in last and last["val_accuracy"] >= best
    return f"stopped by its {last[TIME_CUT]:g} s time share after {n} epoch{'s' * (n != 1)}" + (
        " while validation accuracy was still improving" if improving else ""
    )


def train_epochs(
    model: Any,
    epochs: int,
    one_epoch: Callable[[], float],
    val_accuracy: Callable[[], float] | None,
    patience: int,
    history: list[dict[str, float]] | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
    time_limit_s: float | None = None,
    min_epochs: int = 0,
) -> list[dict[str, float]]:
    """Run up to `epochs` epochs and leave `model` in eval mode with its best epoch's weights.

    An epoch's score is its validation accuracy (or, without validation rows, minus its training
    loss). Entries are appended to `history` (a new list when None), which is returned; when
    `time_limit_s` ended the loop before `epochs`, the last entry says so (`time_cut`). Early
    stopping waits for `min_epochs` (a decaying learning rate's late epochs are often its best).
    """
    history = [] if history is None else history
    best, best_state, stale = float("-inf"), None, 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        entry: dict[str, float] = {"epoch": epoch, "train_loss": round(float(one_epoch()), 4)}
        if val_accuracy is not None:
            entry["val_accuracy"] = round(float(val_accuracy()), 4)
        history.append(entry)
        if progress is not None:
            progress(entry)
        score = entry.get("val_accuracy", -entry["train_loss"])
        if score > best:
            best, stale = score, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= patience and epoch >= min_epochs:
                break
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            if epoch < epochs:  # the clock, not convergence, ended it: say so where it is read back
                entry[TIME_CUT] = round(float(time_limit_s), 1)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def epochs_to_reach(history: Sequence[dict[str, float]], target: float) -> int | None:
    """The first epoch whose validation accuracy is at least `target` (None: never)."""
    for entry in history:
        if entry.get("val_accuracy", -1.0) >= target:
            return int(entry["epoch"])
    return None
