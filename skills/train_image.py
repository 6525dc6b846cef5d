"""Image classification: pixels -> logistic regression (scikit-learn), a small CNN (PyTorch) and
transformers classifiers (`skills.hf_image`: vit-tiny, pretrained from a local directory or a small
ViT from scratch; resnet18 only pretrained), chosen by `skills.select_model.select` within the
limits, on images resized to one square size.

Input size: the median image side of the training data, clipped to 8..32 px (smaller when a
parameter limit needs it); grayscale when every image is, else RGB. Pixels are uint8 in
[N, side, side, channels] (`skills.image_data.load_arrays`); every family scales them to [0, 1].
The ONNX export (`skills.export_image`) takes the same uint8 array, so the service only decodes
and resizes. Called by `skills.train.train_model`.

    net, config = fit_image_net(x, y, side=8, channels=1, time_limit_s=60)
    proba = predict_proba_net(net, config, x_test)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skills.early_stopping import time_cut, train_epochs
from skills.model_card import Trained
from skills.model_catalog import Candidate, candidates, to_try
from skills.search_budget import SearchBudget
from skills.select_model import Scored, Tried, budget_cuts, select
from skills.specs import TaskSpec, TaskType

LR_FAMILY = "pixels-logistic-regression"
CNN_FAMILY = "small-cnn"
MIN_SIDE, MAX_SIDE = 8, 32
C_GRID = (0.1, 1.0)
FOLDS = 3
CV_MAX_ROWS = 5_000  # above this the logistic regression is scored on one held-back split
CNN_WIDTHS = ((16, 32, 64), (8, 16, 32), (4, 8, 16))  # tried in turn until the parameter limit holds
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
DEFAULT_SELECT_S = 120.0
CNN_EPOCHS = 40  # at most; early stopping on validation usually ends it sooner
HF_EPOCHS, HF_PATIENCE = 60, 8  # a ViT from scratch climbs unevenly: more patience than the CNN's 5
HF_LR_SCRATCH, HF_LR_PRETRAINED = 5e-4, 1e-4


# ---------------------------------------------------------------- input size


def input_shape(widths: Any, heights: Any, modes: Any) -> tuple[int, int]:
    """(side, channels) for the model from the training images' sizes and modes."""
    import numpy as np

    sides = np.maximum(np.asarray(widths, dtype=float), np.asarray(heights, dtype=float))
    side = int(min(MAX_SIDE, max(MIN_SIDE, round(float(np.median(sides))))))
    channels = 1 if all(str(m) in GRAY_MODES for m in modes) else 3
    return side, channels


def lr_params(side: int, channels: int, classes: int) -> int:
    rows = 1 if classes == 2 else classes
    return side * side * channels * rows + rows


def cnn_params(side: int, channels: int, classes: int, widths: tuple[int, ...]) -> int:
    total, c = 0, channels
    for w in widths:
        total += 9 * c * w + w
        c = w
    cells = (side // 2 ** (len(widths) - 1)) ** 2
    k = max(2, classes)
    return total + c * cells * k + k


def side_for_limit(limit: int | None, side: int, count: Callable[[int], int]) -> int:
    """The largest side <= `side` (down to MIN_SIDE) whose model stays within `limit` parameters."""
    while limit is not None and side > MIN_SIDE and count(side) > limit:
        side -= 1 if side <= 16 else 2
    return side


# ---------------------------------------------------------------- logistic regression


def flatten_pixels(x: Any) -> Any:
    """uint8 [n, h, w, c] -> float32 [n, h*w*c] in [0, 1] (module level so the pipeline pickles)."""
    import numpy as np

    arr = np.asarray(x, dtype=np.float32)
    return arr.reshape(len(arr), -1) / np.float32(255.0)


def lr_pipeline(c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline(
        [
            ("pixels", FunctionTransformer(flatten_pixels)),
            ("clf", LogisticRegression(C=c, max_iter=500, random_state=seed)),
        ]
    )


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


# ---------------------------------------------------------------- the CNN


@dataclass
class ImageNetConfig:
    """Saved next to the weights; loading rebuilds the net from it."""

    labels: list[str]
    side: int
    channels: int
    widths: list[int] = field(default_factory=lambda: list(CNN_WIDTHS[0]))
    history: list[dict[str, float]] = field(default_factory=list)
    # arch "hf": a transformers classifier (`skills.hf_image`) rebuilt from `hf_config`; it resizes
    # to model_side, converts to model_channels and normalises with mean/std inside the net
    arch: str = "cnn"
    hf_config: dict[str, Any] = field(default_factory=dict)
    model_side: int = 0
    model_channels: int = 0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    source: str = ""


def make_image_net(config: ImageNetConfig) -> Any:
    """pixels float [n, channels, side, side] in [0, 1] -> class probabilities [n, k].

    3x3 convolutions with ReLU, 2x2 max-pooling between them, then one linear layer over the
    flattened maps (no batch norm: every exported number is a parameter). Arch "hf": the
    transformers net of `skills.hf_image` (same input and outputs)."""
    import torch
    from torch import nn

    if config.arch == "hf":
        from skills.hf_image import hf_image_net

        return hf_image_net(config)

    n_out = max(2, len(config.labels))

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            c = config.channels
            for i, w in enumerate(config.widths):
                layers += [nn.Conv2d(c, w, kernel_size=3, padding=1), nn.ReLU()]
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


def _tensor(x: Any) -> Any:
    import torch

    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)


def fit_image_net(
    x: Any,
    y: Any,
    side: int,
    channels: int,
    widths: tuple[int, ...] = CNN_WIDTHS[0],
    epochs: int = CNN_EPOCHS,
    batch_size: int = 64,
    lr: float = 3e-3,
    patience: int = 5,
    val_frac: float = 0.1,
    seed: int = 0,
    progress: Callable[[dict[str, float]], None] | None = None,
    time_limit_s: float | None = None,
    net: tuple[Any, ImageNetConfig] | None = None,
) -> tuple[Any, ImageNetConfig]:
    """Train on uint8 pixels [n, side, side, channels]; stop early when the held-back validation
    accuracy has not improved for `patience` epochs (or the time is up) and keep the best epoch.
    `net`: a built (model, config) to train instead of a new CNN (`skills.hf_image`)."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classes = sorted({str(v) for v in y})
    target = torch.tensor([classes.index(str(v)) for v in y], dtype=torch.long)
    if net is not None:
        model, config = net
    else:
        config = ImageNetConfig(labels=classes, side=side, channels=channels, widths=list(widths))
        model = make_image_net(config)
    pixels = _tensor(np.ascontiguousarray(x))
    order = rng.permutation(len(x))
    n_val = max(1, int(len(x) * val_frac)) if len(x) >= 20 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)

    def one_epoch() -> float:
        perm = rng.permutation(train_idx)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            rows = torch.from_numpy(perm[i : i + batch_size])
            loss = torch.nn.functional.cross_entropy(model.logits(pixels[rows]), target[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        return total / max(1, len(perm))

    def val_accuracy() -> float:
        pred = _proba(model, pixels[torch.from_numpy(val_idx)]).argmax(axis=1)
        return float(np.mean(pred == target[val_idx].numpy()))

    train_epochs(
        model,
        epochs,
        one_epoch,
        val_accuracy if n_val else None,
        patience,
        config.history,
        progress,
        time_limit_s,
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


def save_image_net(model: Any, config: ImageNetConfig, path: str | Path) -> int:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "image", "config": asdict(config), "state": model.state_dict()}, path)
    return path.stat().st_size


def load_image_net(path: str | Path) -> tuple[Any, ImageNetConfig]:
    import torch

    saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    config = ImageNetConfig(**saved["config"])
    model = make_image_net(config)
    model.load_state_dict(saved["state"])
    model.eval()
    return model, config


def count_net_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# ---------------------------------------------------------------- the search


class ImageSearch:
    """Evaluates one catalog family on the training images (the `evaluate` of `select`)."""

    def __init__(self, spec: TaskSpec, x: Any, y: Any, side: int, channels: int, seed: int, say: Any):
        import numpy as np

        from skills.train import primary_metric, upper_limit

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
        self.share_s = 0.0  # inf under a count budget: no clock
        self.max_epochs: int | None = None
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
        from skills.train import count_params

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

        net, config = fit_image_net(
            shrink(self.x, side),
            self.y,
            side,
            self.channels,
            widths=widths,
            seed=self.seed,
            progress=show,
            time_limit_s=None if math.isinf(self.share_s) else self.share_s or None,
            epochs=self.max_epochs or CNN_EPOCHS,
        )
        score = max((h.get("val_accuracy", 0.0) for h in config.history), default=0.0)
        detail = {
            "side": side,
            "channels": self.channels,
            "widths": list(widths),
            "epochs": len(config.history),
            "tuning": "early stopping on a 10% validation split",
        }
        if cut := time_cut(config.history):
            detail["cut"] = cut
        return Scored(
            score=score, params=count_net_params(net), detail=detail, payload=("torch", (net, config), side)
        )

    def hf(self, cand: Candidate) -> Scored:
        """A transformers classifier (`skills.hf_image`): pretrained from the directory found for
        this family, else a small ViT from scratch; trained by the same loop as small-cnn."""
        import torch

        from skills.hf_image import build_hf_image

        path = self.pretrained.get(cand.name)
        torch.manual_seed(self.seed)  # the new weights (head, or all from scratch) are reproducible
        net = build_hf_image(self.classes, self.side, self.channels, path=path, scratch=cand.config)
        self.say(f"{cand.name}: {net[1].source}")

        def show(entry: dict[str, float]) -> None:
            self.say(
                f"{cand.name} epoch {int(entry['epoch'])}: loss {entry['train_loss']:.4f}, "
                f"val acc {entry.get('val_accuracy', 0):.4f}"
            )

        model, config = fit_image_net(
            self.x,
            self.y,
            self.side,
            self.channels,
            epochs=self.max_epochs or HF_EPOCHS,
            lr=HF_LR_PRETRAINED if path else HF_LR_SCRATCH,
            patience=HF_PATIENCE,
            seed=self.seed,
            progress=show,
            time_limit_s=None if math.isinf(self.share_s) else self.share_s or None,
            net=net,
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

    def __call__(self, cand: Candidate) -> Scored:
        if cand.framework == "hf":
            return self.hf(cand)
        return self.cnn(cand) if cand.framework == "torch" else self.logistic(cand)


def find_pretrained(cands: list[Candidate], model_dir: Any) -> dict[str, str]:
    """family -> directory of a saved model of a type the family takes (`model_types` in its catalog
    config), from `model_dir`, $TRAINER_AGENT_MODELS/<family> or the HF cache. A `model_dir` whose
    model no family takes is one clear sentence."""
    from skills.hf_image import MODEL_TYPES_KEY, family_for_dir, model_type_of
    from skills.model_catalog import resolve_pretrained

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
    from skills.errors import UserError

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
    `model_dir`: a saved transformers image classifier (--model-dir) for the hf families.
    `budget_s` None: the default families; `budget` (default: `budget_s`, else DEFAULT_SELECT_S):
    the time for the search, or counts (no clock); `max_epochs`: a net's epochs at most."""
    search = ImageSearch(spec, x, y, side, channels, seed, say)
    every = candidates(TaskType.IMAGE_CLASSIFICATION)
    search.pretrained = find_pretrained(every, model_dir)
    cands, left = _candidates(families, budget_s, search.pretrained)
    if budget is None:
        budget = SearchBudget.make(DEFAULT_SELECT_S, None if budget_s is None else budget_s / 60)
    total = budget.seconds
    search.share_s = total / max(1, len(cands))
    search.max_epochs = max_epochs or budget.epochs
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
