"""The model catalog (configs/models.yaml): candidate families per task type, their expected size,
latency and quality, and where a pretrained model comes from.

    cands = candidates("text_classification")
    cands[0].estimate_params(features=5000, classes=2)     # -> 15002
    source, path = resolve_pretrained(cands[4], model_dir=None)   # ("from-scratch", None) offline
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError

CATALOG = Path(__file__).resolve().parents[2] / "configs" / "models.yaml"
_NAMES = {"features", "classes", "rows", "vocab", "embed", "hidden", "channels", "max", "min"}


@dataclass(frozen=True)
class Candidate:
    name: str
    framework: str
    params: str | int
    latency_ms: float
    quality: float
    cost: float = 1.0
    exportable: bool = True
    default: bool = False
    role: str = "model"
    implemented: bool = True
    pretrained: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()  # installed Python packages that ship the pretrained model
    config: dict[str, Any] = field(default_factory=dict)

    def estimate_params(
        self, features: int = 0, classes: int = 1, rows: int = 0, vocab: int = 0, channels: int = 1
    ) -> int:
        """The catalog's formula evaluated for a data set (classes: 1 for regression or binary linear)."""
        if isinstance(self.params, (int, float)):
            return int(self.params)
        names = {
            "features": features,
            "classes": classes,
            "rows": rows,
            "vocab": vocab or features,
            "embed": int(self.config.get("embed", 0)),
            "hidden": int(self.config.get("hidden", 0)),
            "channels": channels,
            "max": max,
            "min": min,
        }
        return int(_safe_eval(self.params, names))


def _safe_eval(expr: str, names: dict[str, Any]) -> float:
    """Arithmetic over the catalog's names only (no attribute access, no other calls)."""
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in _NAMES:
            raise UserError(f"{CATALOG}: unknown name '{node.id}' in params formula '{expr}'.")
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Lambda)):
            raise UserError(f"{CATALOG}: params formula '{expr}' may use arithmetic only.")
    return float(eval(compile(tree, "<params>", "eval"), {"__builtins__": {}}, names))


def load_catalog(path: str | Path | None = None) -> dict[str, list[Candidate]]:
    import yaml

    p = Path(path) if path else CATALOG
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"The model catalog {p} could not be read: {err}") from err
    out: dict[str, list[Candidate]] = {}
    for task, entries in raw.items():
        out[task] = [
            Candidate(
                **{
                    **e,
                    "pretrained": tuple(e.get("pretrained", ())),
                    "packages": tuple(e.get("packages", ())),
                    "config": e.get("config") or {},
                }
            )
            for e in entries
        ]
    return out


def candidates(task_type: Any, path: str | Path | None = None) -> list[Candidate]:
    """The implemented candidates of a task type, in catalog order (small to large)."""
    task = str(getattr(task_type, "value", task_type))
    return [c for c in load_catalog(path).get(task, []) if c.implemented]


def to_try(
    task_type: Any,
    families: list[str] | None,
    budget_s: float | None,
    also: Callable[[Candidate], bool] = lambda c: False,
    what: str = "",
) -> list[Candidate]:
    """The candidates a search tries: the named `families` (an unknown name is one sentence); else,
    under a time budget, every exportable one; else the defaults plus those `also` admits (e.g. a
    transformer when a pretrained model was given)."""
    cands = candidates(task_type)
    if families:
        unknown = set(families) - {c.name for c in cands}
        if unknown:
            raise UserError(
                f"Unknown {what}model family {sorted(unknown)}; the catalog has {[c.name for c in cands]}."
            )
        return [c for c in cands if c.name in families]
    if budget_s is not None:
        return [c for c in cands if c.exportable]
    return [c for c in cands if c.default or also(c)]


def pretrained_only(cand: Candidate) -> bool:
    """Families that exist only with a local pretrained model (no from-scratch recipe)."""
    return cand.framework == "embed"


def candidate(task_type: Any, name: str) -> Candidate:
    for c in candidates(task_type):
        if c.name == name:
            return c
    raise UserError(f"No model family '{name}' for {getattr(task_type, 'value', task_type)} in the catalog.")
