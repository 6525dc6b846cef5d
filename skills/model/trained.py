"""What a family's trainer hands over to the end of training (`skills.model.model_card.finish_training`):
the fitted model, its settings, notes and scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Trained:
    family: str
    framework: str  # sklearn | torch
    model: Any  # a fitted pipeline, or (net, config) for torch
    params: int
    source: str = "sklearn"
    hyper: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    tuning: dict[str, Any] = field(default_factory=dict)
    distillation: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    cv_score: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0
    seed: int = 0
    refit: Callable[[float], Any] | None = None  # fits the family on a share of the rows (learning curve)
    train_data: tuple[Any, Any] | None = None  # (x, y) the model was fitted on, for compression refits
    before_model: Any = None  # the model before distillation, evaluated on the held-out data too
