"""Warm start from the model library: the closest registered model (same task type and labels, see
`skills.model.registry.Registry.warm_start`) hands its family and settings to the next training, which
tries that family first, narrows the TF-IDF grid to the points around its settings (or enqueues
them as Optuna's first trial), and seeds a torch net's weights where the shapes match.

    warm = WarmStart.from_entry(registry.warm_start(spec, data))
    around([2000, 5000, 10000, 20000, 50000], 5000)   # -> [2000, 5000, 10000]

The time saved is measured, not assumed: for the grid it is the grid points skipped times this
run's mean seconds per grid point (each point is a 3-fold cross-validation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trainer_agent.skills.model.early_stopping import epochs_to_reach


@dataclass
class WarmStart:
    id: str
    family: str
    families: dict[str, dict[str, Any]]  # family -> its settings, tried first in this order
    created: str = ""
    train_seconds: float = 0.0
    model_path: str | None = None  # a torch net's file (copied into the run) for its weights
    grids: dict[str, dict[str, Any]] = field(default_factory=dict)  # family -> points run/skipped
    weights: dict[str, dict[str, Any]] = field(default_factory=dict)  # family -> epochs saved (torch)

    @classmethod
    def from_entry(cls, entry: dict[str, Any] | None) -> WarmStart | None:
        if not entry or not entry.get("families"):
            return None
        return cls(
            id=str(entry["id"]),
            family=str(entry["family"]),
            families={k: dict(v or {}) for k, v in entry["families"].items()},
            created=str(entry.get("created", "")),
            train_seconds=float(entry.get("train_seconds") or 0.0),
            model_path=entry.get("model_path"),
        )

    def settings(self, family: str) -> dict[str, Any] | None:
        return self.families.get(family)

    def saved_seconds(self) -> float:
        return sum(g["saved_s"] for g in self.grids.values()) + sum(
            w["saved_s"] for w in self.weights.values()
        )

    def record_weights(
        self, family: str, before: list[dict[str, float]], after: list[dict[str, float]], seconds: float
    ) -> None:
        """A net trained on from the registered one's weights: the epochs it took to reach the
        registered net's best validation accuracy against the epochs that took from scratch."""

        target = max((h.get("val_accuracy", 0.0) for h in before), default=0.0)
        cold = epochs_to_reach(before, target) or len(before)
        warm = epochs_to_reach(after, target)
        per_epoch = seconds / max(1, len(after))
        saved = max(0, cold - warm) * per_epoch if warm is not None else 0.0
        self.weights[family] = {
            "target_val_accuracy": target,
            "epochs_from_scratch": cold,
            "epochs_warm": warm,
            "per_epoch_s": round(per_epoch, 3),
            "saved_s": round(saved, 3),
        }

    def note(self) -> str:
        """What the warm start did and the time it saved, with how that is computed."""
        head = (
            f"Warm start from registered model {self.id} ({self.family}, trained {self.created} in "
            f"{self.train_seconds:.1f} s on data with the same labels): "
            f"{', '.join(self.families)} tried first"
        )
        parts = [
            f"{family}: started from its weights and vocabulary; reached its validation accuracy "
            f"{w['target_val_accuracy']:.4f} in {w['epochs_warm'] if w['epochs_warm'] is not None else 'no'} "
            f"epoch(s) against {w['epochs_from_scratch']} from scratch, x {w['per_epoch_s']:.2f} s per epoch "
            f"= {w['saved_s']:.1f} s"
            for family, w in self.weights.items()
        ]
        if not self.grids and not parts:
            return head + (
                "; no grid points were skipped (this search has no grid to narrow), so no time is "
                "claimed as saved."
            )
        parts += [
            f"{family}: {g['points']} of {g['of']} grid points around its settings ({g['around']}), "
            f"{g['of'] - g['points']} skipped x {g['per_point_s']:.2f} s mean per point "
            f"= {g['saved_s']:.1f} s"
            for family, g in self.grids.items()
        ]
        return (
            head + "; " + "; ".join(parts) + f". Time saved: about {self.saved_seconds():.1f} s "
            "(grid points skipped times this run's mean seconds per cross-validated grid point; "
            "for nets, epochs saved to the registered net's validation accuracy times this run's "
            "seconds per epoch)."
        )

    def summary(self) -> dict[str, Any]:
        return {
            "from": self.id,
            "family": self.family,
            "families": list(self.families),
            "grids": self.grids,
            "weights": self.weights,
            "time_saved_s": round(self.saved_seconds(), 3),
            "how": "grid points skipped x mean seconds per grid point measured in this run; for nets, "
            "epochs saved to the registered net's validation accuracy x seconds per epoch",
        }


def warmed(warm: WarmStart | None, cand: Any) -> bool:
    """Whether `cand` is a family of the registered model to start from (so it is tried even when it
    is not a default one)."""
    return warm is not None and cand.name in warm.families and cand.exportable


def around(grid: Sequence[Any], value: Any) -> list[Any]:
    """The grid value closest to `value` (on a log scale) and its neighbours; the whole grid when
    `value` is missing."""
    values = list(grid)
    if value is None or not values:
        return values
    try:
        target = math.log(max(float(value), 1e-12))
    except (TypeError, ValueError):
        return values
    i = min(range(len(values)), key=lambda j: abs(math.log(max(float(values[j]), 1e-12)) - target))
    return values[max(0, i - 1) : i + 2]
