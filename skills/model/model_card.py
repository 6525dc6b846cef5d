"""The end of training: save the chosen model, evaluate it on the held-out data (metrics,
calibration, confusion matrix and learning curve), try compressed variants, and write
models/model.json and model_card.md. `Trained` is what the family-specific trainers hand over."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.markdown_safe import md_text as md
from trainer_agent.skills.model import families
from trainer_agent.skills.model.compress import compress
from trainer_agent.skills.model.evaluate import calibration, compute, confusion_png, learning_curve_png
from trainer_agent.skills.model.model_data import load_features
from trainer_agent.skills.model.model_files import predict_with
from trainer_agent.skills.model.model_size import count_params, upper_limit
from trainer_agent.skills.model.trained import Trained
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType, TrainResult

LEARNING_CURVE_MAX_S = 20.0  # refit for a learning curve only when one fit is this quick


def save_model(trained: Trained, models: Path, task: TaskType | None = None) -> tuple[Path, int]:
    """Write the trained model as its family stores it (`skills.model.families`); (path, bytes)."""
    return families.save_model(trained.model, trained.framework, task or TaskType.TEXT_CLASSIFICATION, models)


def finish_training(
    spec: TaskSpec,
    data: DataReport,
    out: Path,
    info: dict[str, Any],
    trained: Trained,
    say: Callable[[str], None],
) -> TrainResult:

    task = TaskType(spec.task_type)
    path, size = save_model(trained, out / "models", task)
    params = trained.params if trained.framework == "torch" else count_params(trained.model)
    if (limit := upper_limit(spec.requirements, "params")) is not None and params > limit:
        trained.notes.append(
            f"The smallest model tried has {params:,} parameters, over the limit of {limit:,}."
        )
    if trained.framework == "torch":
        labels = list(trained.model[1].labels)
    else:
        labels = [str(c) for c in trained.model.classes_] if task != TaskType.TABULAR_REGRESSION else []
    info.update({"labels": labels, "hyperparameters": trained.hyper, "params": params, "seed": trained.seed})
    (out / "models" / "model.json").write_text(json.dumps(info, indent=2, default=str) + "\n")

    x_test, y_test = load_features(task, info, data.test_path)
    pred, proba = predict_with(info, trained.model, x_test)
    metrics = compute(task, y_test, pred, proba, labels)
    say("held-out: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if "[" not in k))

    if trained.before_model is not None and trained.distillation:
        key = next(iter(trained.cv_score), "accuracy")
        b_pred, b_proba = predict_with(info, trained.before_model, x_test)
        before = compute(task, y_test, b_pred, b_proba, labels).get(key)
        trained.distillation["held_out"] = {"metric": key, "before": before, "after": metrics.get(key)}
        say(f"teacher-student on held-out data: {key} {before:.4f} -> {metrics.get(key, 0):.4f}")
    plots, calib = [], {}
    if labels:
        calib = calibration(y_test, proba, labels)
        plots.append(confusion_png(y_test, pred, labels, out / "plots" / "confusion_matrix.png", out))
    curve = trained.history
    if not curve and trained.refit is not None and trained.train_seconds < LEARNING_CURVE_MAX_S:
        curve = _learning_curve(trained, task, x_test, y_test, info)
    if curve:
        plots.append(learning_curve_png(curve, out / "plots" / "learning_curve.png", out))

    compression = compress(spec, task, info, trained, x_test, y_test, metrics, out, say)
    if compression.get("replaced_with"):
        kept = compression["replaced_with"]
        trained.model, params = kept["model"], kept["params"]
        pred, proba = predict_with(info, trained.model, x_test)
        metrics = compute(task, y_test, pred, proba, labels)
        path, size = save_model(trained, out / "models", task)
        info["params"] = params
        (out / "models" / "model.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
        trained.notes.append(compression["summary"])
    compression.pop("replaced_with", None)
    (out / "models" / "candidates.json").write_text(
        json.dumps(trained.candidates, indent=2, default=str) + "\n"
    )

    result = TrainResult(
        family=trained.family,
        params=params,
        size_bytes=size,
        model_path=str(path),
        labels=labels,
        metrics=metrics,
        train_seconds=round(trained.train_seconds, 3),
        notes=trained.notes,
        model_card="model_card.md",
        source=trained.source,
        candidates=trained.candidates,
        tuning=trained.tuning,
        distillation=trained.distillation,
        compression=compression,
        calibration=calib,
        plots=[p for p in plots if p],
    )
    write_model_card(out / "model_card.md", spec, data, result, trained.hyper)
    return result


def _learning_curve(trained: Trained, task: TaskType, x_test: Any, y_test: Any, info: dict[str, Any]) -> list:
    """Held-out score of the family refitted on 25%, 50% and 100% of the training rows."""

    assert trained.refit is not None
    key = "r2" if task == TaskType.TABULAR_REGRESSION else "accuracy"
    curve = []
    for share in (0.25, 0.5, 1.0):
        try:
            model, n, train_score = trained.refit(share)
        except ValueError:  # too few rows of a class in a small share
            continue
        pred, proba = predict_with(info, model, x_test)
        labels = list(info.get("labels") or [])
        test_score = compute(task, y_test, pred, proba, labels)[key]
        curve.append({"rows": n, f"train_{key}": round(train_score, 4), f"test_{key}": round(test_score, 4)})
    return curve


def write_model_card(path: Path, spec: TaskSpec, data: DataReport, result: TrainResult, hyper: dict) -> None:
    """model_card.md; what comes from the data or the request (labels, columns, paths, notes) is
    escaped (`skills.markdown_safe`): a label `<script>` shows as text."""

    task = TaskType(spec.task_type)
    source = "given by the user" if data.test_from == "user" else "split from the data"
    lines = [
        "# Model card",
        "",
        "## Intended use",
        md(spec.request.strip()) or "(no request text)",
        "",
        f"Task: {task.value.replace('_', ' ')}."
        + (f" Classes: {', '.join(md(label) for label in result.labels)}." if result.labels else ""),
        "",
        "## Data",
        f"- Training: `{md(data.train_path)}` ({data.n_train:,} rows); held-out test: "
        f"`{md(data.test_path)}` ({data.n_test:,} rows, {source}).",
        f"- Label column: `{md(data.label_column)}`"
        + (f"; text column: `{md(data.text_column)}`" if data.text_column else "")
        + (
            f"; features: {', '.join(f'`{md(c)}`' for c in data.feature_columns)}"
            if data.feature_columns
            else ""
        )
        + ".",
        f"- See `{md(data.data_card)}` for the data card.",
        "",
        "## Model",
        f"- Family: {result.family} ({result.source})",
        f"- Parameters: {result.params:,} "
        "(see `trainer_agent.skills.model.model_size.count_params` for what is counted)",
        f"- Saved size: {result.size_bytes:,} bytes (`{Path(result.model_path).name}`)",
        f"- Training time: {result.train_seconds:.1f} s",
        "- Hyperparameters:",
        *[f"  - {md(k)}: {md(v)}" for k, v in hyper.items()],
        "",
        "## Why this model",
        "| family | status | score (cv) | parameters | note |",
        "|---|---|---|---|---|",
        *[
            f"| {c['name']} | {c['status']} | {c.get('score', '')} "
            f"| {c.get('params', c.get('estimated_params', ''))}"
            f" | {md(c.get('reason', ''))} |"
            for c in result.candidates
        ],
        "",
        "## Held-out metrics",
        "| metric | value |",
        "|---|---|",
        *[f"| {md(k)} | {v:.4f} |" for k, v in result.metrics.items()],
    ]
    if result.calibration:
        lines += [
            "",
            f"Calibration: expected calibration error {result.calibration['ece']:.4f} "
            f"({result.calibration['bins']} bins of confidence).",
        ]
    if result.distillation:
        d = result.distillation
        lines += ["", "## Teacher and student", md(d.get("summary", ""))]
    if result.compression.get("variants"):
        lines += ["", "## Compression", "| variant | parameters | metric | kept |", "|---|---|---|---|"]
        for v in result.compression["variants"]:
            lines.append(
                f"| {v['name']} | {v.get('params', '')} | {v.get('score', '')} | {v.get('kept', False)} |"
            )
    if result.plots:
        lines += ["", "## Plots", *[f"- `{p}`" for p in result.plots]]
    lines += [
        "",
        "## Constraints",
        *([f"- {r.key} {r.op} {r.target:g}" for r in spec.requirements] or ["- none stated"]),
        "Requirements, targets against what was achieved, are in the run report.",
        "",
        "## Notes",
        *([f"- {md(n)}" for n in result.notes] or ["- none"]),
        "",
        "## Limits",
        "- Measured on one held-out split of the data given; other data (other sources, later dates, "
        "other wording or populations) may score lower.",
    ]
    if task == TaskType.IMAGE_CLASSIFICATION:
        lines.append(
            "- Images are squashed to one small square size (aspect ratio not kept): fine detail is lost, "
            "and photos unlike the training images (other cameras, lighting, framing) may score lower."
        )
    elif task == TaskType.TEXT_CLASSIFICATION:
        lines.append(
            "- Words only (pairs for TF-IDF models): sarcasm and context beyond that are missed, "
            "and only ASCII words count (other scripts are ignored)."
        )
    else:
        lines.append(
            "- Categories unseen in training are ignored; numbers far outside the training range get "
            "the prediction of the nearest seen values."
        )
    lines.append("- Not for decisions about people without human review.")
    path.write_text("\n".join(lines) + "\n")
