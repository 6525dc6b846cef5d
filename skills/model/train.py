"""Train the Model agent's model for a task, evaluate it on the held-out split, and explain the choice.

Candidates come from the catalog (configs/models.yaml, `skills.model.model_catalog`), filtered by the
limits on parameters, size and latency and tried in order of expected quality
(`skills.model.select_model`). Without a time budget the default families are tried with small
cross-validated grids: text TF-IDF (word 1-2 grams) -> logistic regression, vocabulary size and C
tuned; tables logistic/ridge regression, random forest and gradient boosting. With `budget_min`
every exportable family is tried (TF-IDF + complement naive Bayes, PyTorch text nets) and the
sklearn ones are tuned with Optuna (`skills.model.tune`). When the chosen model misses a metric target
and a teacher is affordable, the hierarchical mode distils a larger teacher into it
(`skills.model.distill`). Everything converts to ONNX (`skills.export.export`, `skills.export.export_torch`).

    from trainer_agent.skills.model.train import train_model
    result = train_model(spec, data_report, "runs/<id>", seed=0, budget_min=5)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.data.image_data import IMAGE_COLUMN, load_arrays
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model import train_image, train_tabular, train_text
from trainer_agent.skills.model.cross_val import scored_on_person_rows
from trainer_agent.skills.model.model_card import finish_training
from trainer_agent.skills.model.model_data import (
    labels_of,
    person_rows,
    read_csv,
    tabular_frame,
    tabular_inputs,
    text_values,
    with_corrections,
)
from trainer_agent.skills.model.search_budget import SearchBudget, for_data
from trainer_agent.skills.model.warm_start import WarmStart
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType, TrainResult

# The default family per task: the one the default search tries first (the catalog's defaults by
# expected quality, then cost; the plan lists them all, see skills.task.plan._tries).
FAMILIES = {
    TaskType.TEXT_CLASSIFICATION: "tfidf-logistic-regression",
    TaskType.TABULAR_CLASSIFICATION: "random-forest-classifier",
    TaskType.TABULAR_REGRESSION: "random-forest-regressor",
    TaskType.IMAGE_CLASSIFICATION: "small-cnn",
}
# ---------------------------------------------------------------- data


# ---------------------------------------------------------------- parameters


# ---------------------------------------------------------------- limits


# ---------------------------------------------------------------- vocabulary


# ---------------------------------------------------------------- entry point


def _say(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    def say(line: str) -> None:
        if progress is not None:
            progress(line)
        else:
            print(f"[model] {line}", file=sys.stdout, flush=True)

    return say


def train_model(
    spec: TaskSpec,
    data: DataReport,
    out_dir: str | Path,
    seed: int = 0,
    *,
    budget_min: float | None = None,
    model_dir: str | Path | None = None,
    families: list[str] | None = None,
    unlabelled_path: str | Path | None = None,
    distill: bool | None = None,
    progress: Callable[[str], None] | None = None,
    warm_start: dict[str, Any] | None = None,
    max_trials: int | None = None,
    max_epochs: int | None = None,
    search_budget: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on `data.train_path`, evaluate on `data.test_path`, and write under `out_dir`:
    models/model.joblib or models/model.pt (the model), models/model.json (its inputs, labels,
    settings), models/candidates.json, plots/*.png and model_card.md.

    Args:
        budget_min: minutes for choosing and tuning (Optuna) over every exportable family; None:
            the default families within a budget sized to the data (`skills.model.search_budget`).
        max_trials, max_epochs: a count budget instead of the clock (at most N tuning trials per
            study, N epochs per net): the same seed gives the same model on any load.
        search_budget: the plan's budget (`SearchBudget.to_dict`), used as is when given.
        model_dir: a directory with a saved transformers model (teacher for distillation; for
            images, the pretrained model of an hf family such as vit-tiny).
        families: catalog names to try instead of the defaults (e.g. ["torch-text-bag"]).
        unlabelled_path: a CSV of unlabelled rows for pseudo-labelling in the hierarchical mode.
        distill: True forces the teacher-student step, False turns it off, None: only when the
            chosen model misses a metric target.
        progress: called with one line per event (default: printed, so jobs stream it).
        warm_start: the closest registered model (`skills.model.registry.Registry.warm_start`): its
            families are tried first and its settings narrow the search (`skills.model.warm_start`).
    """
    import numpy as np

    task = TaskType(spec.task_type)
    if task not in FAMILIES:
        raise UserError(f"Task type '{task.value}' is not supported by the trainer yet.")
    say = _say(progress)
    out = Path(out_dir)
    train_df = read_csv(data.train_path)
    label_column = data.label_column or spec.label_column
    if not label_column:
        raise UserError("No label column was given for training.")
    y = labels_of(task, train_df, label_column, data.train_path)
    # The training file holds the person's labels: models are fitted on the approved corrections,
    # and every score (cross-validation, selection, validation) is computed on `given`.
    given = y
    if data.corrections_path and task != TaskType.TABULAR_REGRESSION:
        y = with_corrections(y, data.corrections_path, data.train_path)
    # catalog rows train every fold; the scores that choose families and settings are the person's
    score_rows = person_rows(data.train_path)
    if task != TaskType.TABULAR_REGRESSION and len(np.unique(y)) < 2:
        raise UserError(
            f"Label column '{label_column}' in {data.train_path} has a single class; a classifier "
            "needs at least two."
        )
    info: dict[str, Any] = {
        "task_type": task.value,
        "family": FAMILIES[task],
        "framework": "sklearn",
        "label_column": label_column,
        "text_column": None,
        "inputs": [],
    }

    warm = WarmStart.from_entry(warm_start)
    budget = SearchBudget.from_dict(search_budget) or _sized(
        task, train_df, y, label_column, data, spec, budget_min, max_trials, max_epochs
    )
    budget_s = budget.seconds if budget.given else None  # None: the default families
    say(budget.describe())
    start = time.perf_counter()
    if task == TaskType.TEXT_CLASSIFICATION:
        text_column = data.text_column or spec.text_column
        if not text_column:
            raise UserError("No text column was given for text classification.")
        info["text_column"] = text_column
        info["inputs"] = [{"name": "text", "column": text_column, "kind": "string"}]
        x = text_values(train_df, text_column, data.train_path)
        pool = None
        unlabelled_path = unlabelled_path or data.unlabelled_path  # the data stage's pool
        if unlabelled_path is not None:
            pool = text_values(read_csv(unlabelled_path), text_column, unlabelled_path)
        trained = train_text.train(
            spec,
            x,
            y,
            out,
            info,
            seed,
            budget_s,
            families,
            pool,
            distill,
            model_dir,
            say,
            warm=warm,
            given=given,
            budget=budget,
            score_rows=score_rows,
        )
    elif task == TaskType.IMAGE_CLASSIFICATION:
        column = (data.feature_columns or spec.feature_columns or [IMAGE_COLUMN])[0]
        if {"width", "height", "mode"} <= set(train_df.columns):
            side, channels = train_image.input_shape(train_df["width"], train_df["height"], train_df["mode"])
        else:  # a CSV not written by the data stage: a common size, colour
            side, channels = 28, 3
        info["inputs"] = [
            {"name": "image", "column": column, "kind": "image", "side": side, "channels": channels}
        ]
        x = load_arrays(data.train_path, column, side, channels)
        if unlabelled_path is not None:
            say("An unlabelled pool was given; pseudo-labelling is implemented for text models only.")
        trained = train_image.train(
            spec,
            x,
            y,
            side,
            channels,
            info,
            seed,
            budget_s,
            families,
            say,
            model_dir=model_dir,
            max_epochs=budget.epochs,
            budget=budget,
        )
    else:
        columns = data.feature_columns or spec.feature_columns
        if not columns:
            columns = [c for c in train_df.columns if c != label_column]
        if not columns:
            raise UserError(f"{data.train_path} has no feature columns besides the label '{label_column}'.")
        info["inputs"] = tabular_inputs(train_df, list(columns))
        x = tabular_frame(train_df, info["inputs"], data.train_path)
        pool = None
        if unlabelled_path is not None:
            pool = tabular_frame(read_csv(unlabelled_path), info["inputs"], unlabelled_path)
        trained = train_tabular.train(
            spec,
            task,
            x,
            y,
            out,
            info,
            seed,
            budget_s,
            families,
            pool,
            distill,
            say,
            warm=warm,
            given=given,
            budget=budget,
            score_rows=score_rows,
        )
    trained.train_seconds = time.perf_counter() - start
    trained.notes.append(budget.describe())
    if score_rows is not None:
        trained.notes.append(scored_on_person_rows(score_rows))
    return finish_training(spec, data, out, info, trained, say)


def _sized(
    task: TaskType,
    train_df: Any,
    y: Any,
    label_column: str,
    data: DataReport,
    spec: TaskSpec,
    budget_min: float | None,
    max_trials: int | None,
    max_epochs: int | None,
) -> SearchBudget:
    """The search budget for this training data when the plan's is not given (direct callers)."""

    classes = 1 if task == TaskType.TABULAR_REGRESSION else len(set(map(str, y)))
    features = 1
    if task in (TaskType.TABULAR_CLASSIFICATION, TaskType.TABULAR_REGRESSION):
        features = len(
            data.feature_columns or spec.feature_columns or [c for c in train_df if c != label_column]
        )
    return for_data(task, len(y), features, classes, budget_min, max_trials, max_epochs)
