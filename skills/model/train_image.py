"""Image classification: pixels -> logistic regression (scikit-learn), a small CNN (PyTorch) and
transformers classifiers (`skills.model.hf_image`: vit-tiny, pretrained from a local directory or a small
ViT from scratch; resnet18 only pretrained), chosen by `skills.model.select_model.select` within the
limits, on images resized to one square size.

Input size: the median image side of the training data, clipped to 8..32 px (smaller when a
parameter limit needs it); grayscale when every image is, else RGB. Pixels are uint8 in
[N, side, side, channels] (`skills.data.image_data.load_arrays`); every family scales them to [0, 1].
The ONNX export (`skills.export.export_image`) takes the same uint8 array, so the service only decodes
and resizes. Called by `skills.model.train.train_model`; each family is fitted through the family
table (`skills.model.families`).

Time: without a budget (--budget-min) no clock is read: the CNN trains up to its epoch cap with
early stopping on validation, and every default family is tried, so a busy machine gives the same
model, only later. Under a budget each family gets an equal share of it, and a net the clock
stopped is reported as a cut (`skills.model.select_model.budget_cuts`). `max_epochs` caps the nets'
epochs exactly and turns their clock off even under a budget.

    trained = train(spec, x, y, side=8, channels=1, info=info, seed=0, budget_s=None,
                    families=None, say=print, max_epochs=20)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.early_stopping import time_cut
from trainer_agent.skills.model.families import family as family_of
from trainer_agent.skills.model.hf_image import MODEL_TYPES_KEY, family_for_dir, model_type_of
from trainer_agent.skills.model.image_net_config import CNN_WIDTHS, cnn_params
from trainer_agent.skills.model.image_pixels import (
    flatten_pixels as flatten_pixels,  # named by earlier saved pipelines
)
from trainer_agent.skills.model.image_pixels import lr_params, lr_pipeline
from trainer_agent.skills.model.model_catalog import Candidate, candidates, to_try
from trainer_agent.skills.model.model_library import resolve_pretrained
from trainer_agent.skills.model.model_size import count_params, upper_limit
from trainer_agent.skills.model.net_io import count_net_params
from trainer_agent.skills.model.search_budget import SearchBudget
from trainer_agent.skills.model.search_defaults import primary_metric
from trainer_agent.skills.model.select_model import Scored, Tried, budget_cuts, select
from trainer_agent.skills.model.trained import Trained
from trainer_agent.skills.specs import TaskSpec, TaskType

LR_FAMILY = "pixels-logistic-regression"
CNN_FAMILY = "small-cnn"
MIN_SIDE, MAX_SIDE = 8, 32
C_GRID = (0.1, 1.0)
FOLDS = 3
CV_MAX_ROWS = 5_000  # above this the logistic regression is scored on one held-back split
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


# ---------------------------------------------------------------- input size


def input_shape(widths: Any, heights: Any, modes: Any) -> tuple[int, int]:
    """(side, channels) for the model from the training images' sizes and modes."""
    import numpy as np

    sides = np.maximum(np.asarray(widths, dtype=float), np.asarray(heights, dtype=float))
    side = int(min(MAX_SIDE, max(MIN_SIDE, round(float(np.median(sides))))))
    channels = 1 if all(str(m) in GRAY_MODES for m in modes) else 3
    return side, channels


def side_for_limit(limit: int | None, side: int, count: Callable[[int], int]) -> int:
    """The largest side <= `side` (down to MIN_SIDE) whose model stays within `limit` parameters."""
    while limit is not None and side > MIN_SIDE and count(side) > limit:
        side -= 1 if side <= 16 else 2
    return side


def shrink(x: Any, side: int) -> Any:
    """Pixel arrays resized to `side` (for a side cut by a parameter limit)."""
    import numpy as np
    from PIL import Image

    if x.shape[1] == side:
        return x
    out = np.zeros((len(x), side, side, x.shape[3]), dtype=np.uint8)
    for i, img in enumerate(x):
        mode = "L" if x.shape[3] == 1 else "RGB"
        small = Image.fromarray(img.squeeze(-1) if mode == "L" else img, mode=mode)
        out[i] = np.asarray(small.resize((side, side), Image.Resampling.BILINEAR)).reshape(side, side, -1)
    return out


# ---------------------------------------------------------------- the search


class ImageSearch:
    """Evaluates one catalog family on the training images (the `evaluate` of `select`)."""

    def __init__(self, spec: TaskSpec, x: Any, y: Any, side: int, channels: int, seed: int, say: Any):
        import numpy as np

        self.spec, self.x, self.y, self.side, self.channels, self.seed, self.say = (
            spec,
            x,
            y,
            side,
            channels,
            seed,
            say,
        )
        self.classes = sorted({str(v) for v in y})
        self.metric, self.scoring = primary_metric(TaskType.IMAGE_CLASSIFICATION, spec.requirements)
        self.param_limit = upper_limit(spec.requirements, "params")
        self.min_count = int(np.unique(y, return_counts=True)[1].min())
        self.share_s = 0.0  # a family's share of the budget; 0: no clock
        self.max_epochs: int | None = None  # the nets' exact epoch cap (then no clock either)
        self.notes: list[str] = []
        self.pretrained: dict[str, str] = {}  # hf family -> the directory of its pretrained model

    def logistic(self, cand: Candidate) -> Scored:
        import numpy as np
        from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

        k = len(self.classes)
        side = side_for_limit(self.param_limit, self.side, lambda s: lr_params(s, self.channels, k))
        x = shrink(self.x, side)
        scores = {}
        for c in C_GRID:
            pipe = lr_pipeline(c, self.seed)
            if len(self.y) <= CV_MAX_ROWS and self.min_count >= FOLDS:
                cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=self.seed)
                scores[c] = float(np.mean(cross_val_score(pipe, x, self.y, cv=cv, scoring=self.scoring)))
            else:
                fit, held = train_test_split(np.arange(len(self.y)), test_size=0.1, random_state=self.seed)
                scores[c] = float(pipe.fit(x[fit], self.y[fit]).score(x[held], self.y[held]))
        c_best = max(scores, key=lambda c: scores[c])
        pipe = lr_pipeline(c_best, self.seed).fit(x, self.y)

        params = count_params(pipe)
        how = f"{FOLDS}-fold" if len(self.y) <= CV_MAX_ROWS and self.min_count >= FOLDS else "one 10% split"
        self.say(
            f"{cand.name}: {self.scoring} {scores[c_best]:.4f} ({how}) at {side}x{side}, "
            f"{params:,} parameters"
        )
        detail = {
            "side": side,
            "channels": self.channels,
            "C": c_best,
            "tuning": f"C from {list(C_GRID)} by {how} {self.scoring}",
            "scores": {str(c): round(s, 4) for c, s in scores.items()},
        }
        return Scored(score=scores[c_best], params=params, detail=detail, payload=("sklearn", pipe, side))

    def cnn(self, cand: Candidate) -> Scored:
        k = len(self.classes)
        widths, side = CNN_WIDTHS[0], self.side
        for widths in CNN_WIDTHS:
            side = side_for_limit(
                self.param_limit,
                self.side,
                lambda s, w=widths: cnn_params(s, self.channels, k, w),  # type: ignore[misc]
            )
            if self.param_limit is None or cnn_params(side, self.channels, k, widths) <= self.param_limit:
                break

        def show(entry: dict[str, float]) -> None:
            self.say(
                f"{cand.name} epoch {int(entry['epoch'])}: loss {entry['train_loss']:.4f}, "
                f"val acc {entry.get('val_accuracy', 0):.4f}"
            )

        net, config = family_of(cand.name).fit(
            shrink(self.x, side),
            self.y,
            side,
            self.channels,
            widths=widths,
            epochs=self.max_epochs,
            seed=self.seed,
            progress=show,
            time_limit_s=self.time_limit(),
        )
        score = max((h.get("val_accuracy", 0.0) for h in config.history), default=0.0)
        detail = {
            "side": side,
            "channels": self.channels,
            "widths": list(widths),
            "epochs": len(config.history),
            "tuning": "early stopping on a 10% validation split",
            "recipe": config.recipe,
        }
        if cut := time_cut(config.history):
            detail["cut"] = cut
        return Scored(
            score=score, params=count_net_params(net), detail=detail, payload=("torch", (net, config), side)
        )

    def hf(self, cand: Candidate) -> Scored:
        """A transformers classifier (its family's `fit`: `skills.model.hf_image`): pretrained from the
        directory found for this family, else a small ViT from scratch; trained by the same loop as
        small-cnn."""

        def show(entry: dict[str, float]) -> None:
            self.say(
                f"{cand.name} epoch {int(entry['epoch'])}: loss {entry['train_loss']:.4f}, "
                f"val acc {entry.get('val_accuracy', 0):.4f}"
            )

        model, config = family_of(cand.name).fit(
            self.x,
            self.y,
            self.side,
            self.channels,
            path=self.pretrained.get(cand.name),
            scratch=cand.config,
            epochs=self.max_epochs,
            seed=self.seed,
            progress=show,
            time_limit_s=self.time_limit(),
            say=lambda source: self.say(f"{cand.name}: {source}"),
        )
        hf = config.hf_config
        detail = {
            "side": self.side,
            "channels": self.channels,
            "arch": f"transformers {hf.get('model_type')}",
            "weights": config.source,
            "model_side": config.model_side,
            "model_channels": config.model_channels,
            "hidden": hf.get("hidden_size", hf.get("hidden_sizes")),
            "layers": hf.get("num_hidden_layers", hf.get("depths")),
            "epochs": len(config.history),
            "tuning": "early stopping on a 10% validation split",
        }
        score = max((h.get("val_accuracy", 0.0) for h in config.history), default=0.0)
        return Scored(
            score=score,
            params=count_net_params(model),
            detail=detail,
            payload=("torch", (model, config), self.side),
        )

    def time_limit(self) -> float | None:
        """A net's wall-clock limit: its budget share, unless there is none or `max_epochs` rules."""
        return None if self.max_epochs is not None or not self.share_s else self.share_s

    def __call__(self, cand: Candidate) -> Scored:
        trials = {"pixels": self.logistic, "image-cnn": self.cnn, "hf-image": self.hf}
        return trials[family_of(cand.name).kind](cand)


def find_pretrained(cands: list[Candidate], model_dir: Any) -> dict[str, str]:
    """family -> directory of a saved model of a type the family takes (`model_types` in its catalog
    config), from `model_dir`, $TRAINER_AGENT_MODELS/<family> or the HF cache. A `model_dir` whose
    model no family takes is one clear sentence."""

    hf = [c for c in cands if c.framework == "hf"]
    found: dict[str, str] = {}
    for cand in hf:
        _, path = resolve_pretrained(cand, model_dir)
        if path is not None and model_type_of(path) in cand.config.get(MODEL_TYPES_KEY, ()):
            found[cand.name] = path
    if model_dir and (Path(model_dir) / "config.json").is_file() and not found:
        family_for_dir(model_dir, hf)  # raises the sentence naming the model type
    return found


def has_recipe(cand: Candidate) -> bool:
    """Whether an hf family can be built from scratch (its catalog config gives a model size)."""
    return "hidden_size" in cand.config


def _candidates(
    families: list[str] | None, budget_s: float | None, pretrained: dict[str, str]
) -> tuple[list[Candidate], list[Tried]]:
    """Named `families`; else the exportable ones under a budget; else the defaults plus the hf
    families that found a pretrained model. hf families with neither a pretrained model nor a
    from-scratch recipe are left out, with a row saying why."""

    cands = to_try(
        TaskType.IMAGE_CLASSIFICATION, families, budget_s, also=lambda c: c.name in pretrained, what="image "
    )
    usable = [c for c in cands if c.framework != "hf" or c.name in pretrained or has_recipe(c)]
    left = [
        Tried(
            c.name,
            "skipped",
            "no local pretrained model (--model-dir, $TRAINER_AGENT_MODELS/"
            f"{c.name}, the HF cache; hub downloads are not possible here) and no from-scratch recipe",
        )
        for c in cands
        if c not in usable
    ]
    if not usable:
        raise UserError(
            f"{', '.join(c.name for c in cands)} needs a pretrained model in --model-dir or "
            f"${{TRAINER_AGENT_MODELS}}/<family> (hub downloads are not possible here); name vit-tiny "
            "to train a small ViT from scratch."
        )
    return usable, left


def train(
    spec: TaskSpec,
    x: Any,
    y: Any,
    side: int,
    channels: int,
    info: dict[str, Any],
    seed: int,
    budget_s: float | None,
    families: list[str] | None,
    say: Any,
    model_dir: Any = None,
    max_epochs: int | None = None,
    budget: SearchBudget | None = None,
) -> Trained:
    """Choose and fit an image model; sets info["family"], ["framework"] and the input size.

    Args:
        budget_s: seconds for the search (--budget-min): each family gets an equal share and a net
            stopped by its share is reported as cut; None: no clock, every default family tried
            in full (`budget`, when sized to the data, bounds tuning only: none here).
        model_dir: a saved transformers image classifier (--model-dir) for the hf families.
        max_epochs: the most epochs of the CNN and transformers nets (--max-epochs), honoured
            exactly: early stopping on validation may end them sooner, the clock never does, so
            the same seed and `max_epochs` give the same nets; None: each net's default cap.
    """

    search = ImageSearch(spec, x, y, side, channels, seed, say)
    search.max_epochs = max_epochs
    every = candidates(TaskType.IMAGE_CLASSIFICATION)
    search.pretrained = find_pretrained(every, model_dir)
    cands, left = _candidates(families, budget_s, search.pretrained)
    total = budget_s if budget_s is not None else math.inf
    search.share_s = total / max(1, len(cands)) if budget_s is not None and math.isfinite(total) else 0.0
    k = len(search.classes)
    sizes = {"features": side * side * channels, "classes": 1 if k == 2 else k, "channels": channels}
    sel = select(cands, spec.requirements, search, total, sizes=sizes, metric=search.metric)
    sel.tried += left
    if cuts := budget_cuts(sel, total):
        search.notes.append(cuts)
    if sel.best is None:
        search.notes.append("Every candidate was over the parameter limit; the smallest was kept.")
        fallback = min(cands, key=lambda c: c.estimate_params(**sizes))
        scored, name = search(fallback), fallback.name
    else:
        scored, name = sel.scored, sel.best.name  # type: ignore[assignment]
    assert scored is not None
    kind, model, used_side = scored.payload
    info["family"], info["framework"] = name, kind
    info["inputs"] = [
        {
            "name": "image",
            "column": info["inputs"][0]["column"],
            "kind": "image",
            "side": used_side,
            "channels": channels,
        }
    ]
    others = ", ".join(f"{c['name']} {c['score']}" for c in sel.table if "score" in c and c["name"] != name)
    search.notes.append(
        f"{name} chosen on {search.metric} ({scored.score:.4f})"
        + (f" against {others}." if others else ".")
        + f" Images are resized to {used_side}x{used_side} {'grayscale' if channels == 1 else 'RGB'}."
    )
    source = "torch" if kind == "torch" else "sklearn"
    for row in sel.tried:  # transformers families tried and not kept: where their weights came from
        if row.name != name and row.detail.get("weights"):
            search.notes.append(f"{row.name} (not chosen) weights: {row.detail['weights']}.")
    if kind == "torch" and model[1].arch == "hf":
        source = "pretrained-local" if name in search.pretrained else "from-scratch"
        search.notes.append(
            f"{name} weights: {model[1].source}. The net converts, resizes and normalises the "
            f"{used_side}x{used_side} pixels to its {model[1].model_side}x{model[1].model_side} "
            f"{'gray' if model[1].model_channels == 1 else 'RGB'} input itself, in the ONNX graph too."
        )
    trained = Trained(
        family=name,
        framework=kind,
        source=source,
        model=model,
        params=scored.params,
        hyper=dict(scored.detail),
        notes=search.notes,
        candidates=sel.table,
        cv_score={search.metric: scored.score},
        seed=seed,
    )
    if kind == "sklearn":
        xs = shrink(x, used_side)
        trained.train_data = (xs, y)
        trained.refit = _refitter(scored.detail["C"], xs, y, seed)
    else:
        trained.history = model[1].history
    return trained


def _refitter(c: float, x: Any, y: Any, seed: int) -> Any:
    import numpy as np

    def refit(share: float) -> tuple[Any, int, float]:
        n = max(10, int(len(y) * share))
        idx = np.random.default_rng(seed).permutation(len(y))[:n]
        m = lr_pipeline(c, seed).fit(x[idx], y[idx])
        return m, n, float(np.mean(m.predict(x[idx]) == y[idx]))

    return refit
