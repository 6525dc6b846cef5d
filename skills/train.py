"""Train the Model agent's model for a task, evaluate it on the held-out split, and explain the choice.

Candidates come from the catalog (configs/models.yaml, `skills.model_catalog`), filtered by the
limits on parameters, size and latency and tried in order of expected quality
(`skills.select_model`). Without a time budget the default families are tried with small
cross-validated grids: text TF-IDF (word 1-2 grams) -> logistic regression, vocabulary size and C
tuned; tables logistic/ridge regression, random forest and gradient boosting. With `budget_min`
every exportable family is tried (TF-IDF + complement naive Bayes, PyTorch text nets) and the
sklearn ones are tuned with Optuna (`skills.tune`). When the chosen model misses a metric target
and a teacher is affordable, the hierarchical mode distils a larger teacher into it
(`skills.distill`). Everything converts to ONNX (`skills.export`, `skills.export_torch`).

    from skills.train import train_model
    result = train_model(spec, data_report, "runs/<id>", seed=0, budget_min=5)
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from skills.errors import UserError
from skills.search_budget import CV_MAX_ROWS, SearchBudget  # noqa: F401  (CV_MAX_ROWS: text's CV bound)
from skills.specs import DataReport, Requirement, TaskSpec, TaskType, TrainResult

# ASCII words of two characters or more: the same expression runs in scikit-learn and in the
# ONNX Tokenizer (re2), so both see the same tokens. sklearn's default `(?u)\b\w\w+\b` is
# converted by skl2onnx to `[a-zA-Z0-9_]+`, which keeps one-letter tokens and breaks bigrams.
TOKEN_PATTERN = r"[a-zA-Z0-9_]{2,}"
DEFAULT_MAX_FEATURES = 50_000
C_GRID = (1.0, 4.0, 16.0)
GB_N_ESTIMATORS = 100
GB_MAX_DEPTH = 3
DEFAULT_SELECT_S = 120.0  # time for trying candidates when a caller gives no budget at all

# The default family per task: the one the default search tries first (the catalog's defaults by
# expected quality, then cost; the plan lists them all, see skills.plan._tries).
FAMILIES = {
    TaskType.TEXT_CLASSIFICATION: "tfidf-logistic-regression",
    TaskType.TABULAR_CLASSIFICATION: "random-forest-classifier",
    TaskType.TABULAR_REGRESSION: "random-forest-regressor",
    TaskType.IMAGE_CLASSIFICATION: "small-cnn",
}
# ---------------------------------------------------------------- data


def read_csv(path: str | Path) -> Any:
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UserError(f"Data file {p} does not exist.")
    try:
        return pd.read_csv(p)
    except Exception as err:  # pandas raises many kinds for unreadable files
        raise UserError(f"Data file {p} could not be read as CSV: {err}") from err


def sanitize_name(column: str, taken: set[str]) -> str:
    """An ONNX/Python-safe input name for a column: letters, digits and underscores."""
    name = re.sub(r"\W", "_", str(column).strip(), flags=re.ASCII).strip("_") or "column"
    if name[0].isdigit():
        name = "f_" + name
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def tabular_inputs(frame: Any, columns: list[str]) -> list[dict[str, str]]:
    """The model's input schema: one entry per feature column with its ONNX name and kind."""
    import pandas as pd

    taken: set[str] = set()
    inputs = []
    for col in columns:
        kind = "float" if pd.api.types.is_numeric_dtype(frame[col]) else "string"
        inputs.append({"name": sanitize_name(col, taken), "column": col, "kind": kind})
    return inputs


def tabular_frame(frame: Any, inputs: list[dict[str, str]], path: str | Path = "") -> Any:
    """Feature columns renamed to input names: numbers as float64 (NaN kept), strings as str ('' for
    missing) -- the same values the ONNX model receives."""
    import pandas as pd

    out = {}
    for spec in inputs:
        col = spec["column"]
        if col not in frame.columns:
            raise UserError(f"Column '{col}' is missing from {path or 'the data'}.")
        values = frame[col]
        if spec["kind"] == "float":
            out[spec["name"]] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            out[spec["name"]] = pd.Series(
                ["" if pd.isna(v) else str(v) for v in values], index=frame.index, dtype=object
            )
    return pd.DataFrame(out)


def text_values(frame: Any, column: str, path: str | Path = "") -> Any:
    import numpy as np
    import pandas as pd

    if column not in frame.columns:
        raise UserError(f"Text column '{column}' is missing from {path or 'the data'}.")
    return np.asarray(["" if pd.isna(v) else str(v) for v in frame[column]], dtype=object)


def labels_of(task: TaskType, frame: Any, column: str, path: str | Path = "") -> Any:
    import numpy as np
    import pandas as pd

    if column not in frame.columns:
        raise UserError(f"Label column '{column}' is missing from {path or 'the data'}.")
    if task == TaskType.TABULAR_REGRESSION:
        y = pd.to_numeric(frame[column], errors="coerce")
        if y.isna().any():
            raise UserError(
                f"Label column '{column}' in {path or 'the data'} has values that are not numbers "
                "or are missing; regression needs a number in every row."
            )
        return y.to_numpy(dtype=float)
    return np.asarray([str(v) for v in frame[column]], dtype=object)


def with_corrections(y: Any, corrections_path: str | Path, train_path: str | Path) -> Any:
    """The person's labels `y` with the approved corrections of data/label_corrections.csv applied."""
    from skills.label_fixes import corrected_labels
    from skills.specs import LabelIssue

    frame = read_csv(corrections_path)
    try:
        issues = [
            LabelIssue(row=int(r), given=str(g), suggested=str(s), confidence=float(c))
            for r, g, s, c in zip(
                frame["row"], frame["given"], frame["suggested"], frame["confidence"], strict=True
            )
        ]
        return corrected_labels(y, issues, str(train_path))
    except (KeyError, ValueError) as err:
        raise UserError(
            f"The label corrections in {corrections_path} do not fit {train_path}: {err}."
        ) from err


def load_features(task: TaskType, info: dict[str, Any], path: str | Path) -> tuple[Any, Any]:
    """(X, y) of a CSV in the form the fitted pipeline takes, from the model's `model.json` info."""
    frame = read_csv(path)
    if task == TaskType.TEXT_CLASSIFICATION:
        x = text_values(frame, info["text_column"], path)
    elif task == TaskType.IMAGE_CLASSIFICATION:
        from skills.image_data import load_arrays

        spec = info["inputs"][0]
        x = load_arrays(path, spec["column"], int(spec["side"]), int(spec["channels"]))
    else:
        x = tabular_frame(frame, info["inputs"], path)
    return x, labels_of(task, frame, info["label_column"], path)


# ---------------------------------------------------------------- parameters


def _tree_params(tree: Any) -> int:
    t = tree.tree_
    leaves = int((t.children_left == -1).sum())
    per_leaf = int(t.value.shape[1] * t.value.shape[2])
    return 2 * (t.node_count - leaves) + leaves * per_leaf


def _lightgbm_params(model: Any) -> int:
    """Per tree, from LightGBM's dump: feature index and threshold per split, one value per leaf. A
    categorical split on k categories counts as k splits, as the ONNX graph holds it (one equality
    branch per category)."""
    total = 0
    stack = [t["tree_structure"] for t in model.booster_.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" not in node:
            total += 1  # a leaf value
            continue
        threshold = node["threshold"]
        total += 2 * (str(threshold).count("||") + 1 if node["decision_type"] == "==" else 1)
        stack += [node["left_child"], node["right_child"]]
    return total


def _is_lightgbm(model: Any) -> bool:
    return type(model).__module__.startswith("lightgbm")


def tree_ensemble_params(model: Any) -> int:
    """The parameters in the trees of a fitted tree ensemble (scikit-learn's or LightGBM's): the part
    that fewer or shallower trees shrink."""
    if _is_lightgbm(model):
        return _lightgbm_params(model)
    trees = model.estimators_.ravel() if hasattr(model.estimators_, "ravel") else model.estimators_
    return sum(_tree_params(t) for t in trees)


def count_params(model: Any) -> int:
    """Learned numbers the model needs at prediction time.

    - TF-IDF: one idf weight per vocabulary term (the terms themselves are not counted).
    - Linear models: coef_ + intercept_; naive Bayes: feature log-probabilities + class priors;
      MLPs: weights + biases; scalers: mean + scale per column.
    - Trees: feature index and threshold per split node, one value per output per leaf
      (the values scikit-learn keeps on inner nodes are unused and not counted), plus the
      boosting baseline per output. This is what the ONNX tree ensemble stores. LightGBM: the
      same from its booster's dump.
    - Imputers: one statistic per column; one-hot encoders: one per category. An ordinal
      encoder's categories, like a vocabulary's terms, are not counted.
    - PyTorch modules: every parameter element.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import BaseDecisionTree

    if _is_lightgbm(model):
        return _lightgbm_params(model)
    if hasattr(model, "parameters") and callable(model.parameters):  # a torch module
        return int(sum(p.numel() for p in model.parameters()))
    if isinstance(model, Pipeline):
        return sum(count_params(step) for _, step in model.steps if step not in (None, "passthrough"))
    if isinstance(model, ColumnTransformer):
        return sum(count_params(t) for _, t, _ in model.transformers_ if t not in ("drop", "passthrough"))
    if isinstance(model, TfidfVectorizer):
        return len(model.idf_) if model.use_idf else 0
    if isinstance(model, SimpleImputer):
        return len(model.statistics_)
    if isinstance(model, StandardScaler):
        return int(np.size(model.mean_) + np.size(model.scale_))
    if isinstance(model, OneHotEncoder):
        return sum(len(c) for c in model.categories_)
    if isinstance(model, (GradientBoostingClassifier, GradientBoostingRegressor)):
        trees = model.estimators_
        return int(trees.shape[1]) + sum(_tree_params(t) for t in trees.ravel())
    if isinstance(model, (RandomForestClassifier, RandomForestRegressor)):
        return sum(_tree_params(t) for t in model.estimators_)
    if isinstance(model, BaseDecisionTree):
        return _tree_params(model)
    if isinstance(model, (ComplementNB, MultinomialNB)):
        return int(np.size(model.feature_log_prob_) + np.size(model.class_log_prior_))
    if isinstance(model, (MLPClassifier, MLPRegressor)):
        return int(sum(np.size(w) for w in model.coefs_) + sum(np.size(b) for b in model.intercepts_))
    if hasattr(model, "estimators_") and isinstance(model.estimators_, list):  # voting ensembles
        return sum(count_params(e) for e in model.estimators_)
    if hasattr(model, "coef_"):
        return int(np.size(model.coef_) + np.size(getattr(model, "intercept_", 0)))
    return 0


# ---------------------------------------------------------------- limits


def upper_limit(requirements: list[Requirement], name: str) -> int | None:
    """The largest integer allowed by "<"/"<=" requirements on `name`, or None."""
    limit = None
    for req in requirements:
        if req.name != name or req.op not in ("<", "<="):
            continue
        value = math.ceil(req.target) - 1 if req.op == "<" else math.floor(req.target)
        limit = value if limit is None else min(limit, value)
    return limit


_upper_limit = upper_limit


def limit_phrase(requirements: list[Requirement], name: str, limit: int, what: str) -> str:
    op = next((r.op for r in requirements if r.name == name and r.op in ("<", "<=")), "<=")
    return f"under {limit + 1:,} {what}" if op == "<" else f"at most {limit:,} {what}"


def onnx_or_saved_size(pipe: Any, saved: int, info: dict[str, Any]) -> int:
    """The larger of the joblib file and the ONNX file the model converts to (the report checks
    a size requirement against the ONNX file, which is about twice the compressed joblib for text)."""
    from skills.export import convert  # imported here: skills.export imports this module

    meta = dict(info, labels=[str(c) for c in getattr(pipe, "classes_", [])])
    metadata = 600 + 150 * len(info["inputs"])  # the export adds an example input and the schema
    return max(saved, len(convert(pipe, meta).SerializeToString()) + metadata)


def save_joblib(pipe: Any, path: Path) -> int:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipe, path, compress=3)
    return path.stat().st_size


def primary_metric(task: TaskType, requirements: list[Requirement]) -> tuple[str, str]:
    """(metrics key, scikit-learn scorer) the selection optimises: the first metric requirement's
    kind when there is one, else accuracy or R2."""
    names = [r.name for r in requirements]
    if task == TaskType.TABULAR_REGRESSION:
        if "mae" in names:
            return "mae", "neg_mean_absolute_error"
        if "rmse" in names:
            return "rmse", "neg_root_mean_squared_error"
        return "r2", "r2"
    if any(n in ("f1", "precision", "recall") for n in names) or any(r.label for r in requirements):
        return "f1", "f1_macro"
    return "accuracy", "accuracy"


# ---------------------------------------------------------------- vocabulary


def _vectorizer(vocabulary: list[str] | None = None, max_features: int | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=1 if vocabulary else 2,
        max_features=max_features,
        vocabulary=vocabulary,
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
    )


def keep_whole_pairs(terms: list[str]) -> list[str]:
    """`terms` less any word pair whose words are not terms themselves.

    skl2onnx decides how to split a pair by looking its words up in the vocabulary, and takes a
    pair with an unknown word for one token containing a space, which never matches in ONNX. Such
    pairs appear only at the frequency cut-off (a word is at least as frequent as its pairs).
    """
    vocab = set(terms)
    return sorted(t for t in vocab if all(w in vocab for w in t.split(" ")))


def select_vocabulary(x: Any, max_features: int) -> list[str]:
    """The `max_features` most frequent terms (min_df=2), less pairs with unknown words."""
    return keep_whole_pairs(list(_vectorizer(max_features=max_features).fit(x).vocabulary_))


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
            the default families within a budget sized to the data (`skills.search_budget`).
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
        warm_start: the closest registered model (`skills.registry.Registry.warm_start`): its
            families are tried first and its settings narrow the search (`skills.warm_start`).
    """
    import numpy as np

    from skills import train_tabular, train_text
    from skills.model_card import finish_training

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
    from skills.warm_start import WarmStart

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
        )
    elif task == TaskType.IMAGE_CLASSIFICATION:
        from skills import train_image
        from skills.image_data import IMAGE_COLUMN, load_arrays

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
        )
    trained.train_seconds = time.perf_counter() - start
    trained.notes.append(budget.describe())
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
    from skills.search_budget import for_data

    classes = 1 if task == TaskType.TABULAR_REGRESSION else len(set(map(str, y)))
    features = 1
    if task in (TaskType.TABULAR_CLASSIFICATION, TaskType.TABULAR_REGRESSION):
        features = len(
            data.feature_columns or spec.feature_columns or [c for c in train_df if c != label_column]
        )
    return for_data(task, len(y), features, classes, budget_min, max_trials, max_epochs)


def read_model_info(model_path: str | Path) -> dict[str, Any]:
    """The `model.json` saved next to a trained model."""
    path = Path(model_path).with_name("model.json")
    if not path.is_file():
        raise UserError(f"{path} is missing; train the model again to write it.")
    return json.loads(path.read_text())


def predict_with(info: dict[str, Any], model: Any, x: Any) -> tuple[Any, Any]:
    """(predictions, class probabilities or None) of a loaded model on features from `load_features`."""
    if info["task_type"] == TaskType.IMAGE_CLASSIFICATION.value and info.get("framework") == "torch":
        import numpy as np

        from skills.image_cnn import predict_proba_net

        net, config = model
        proba = predict_proba_net(net, config, x)
        return np.asarray(config.labels, dtype=object)[proba.argmax(axis=1)], proba
    if info.get("framework") == "torch":
        from skills import torch_text

        net, config = model
        proba = torch_text.predict_proba(net, config, list(x))
        import numpy as np

        return np.asarray(config.labels, dtype=object)[proba.argmax(axis=1)], proba
    if info["task_type"] == TaskType.TABULAR_REGRESSION.value:
        return model.predict(x), None
    return model.predict(x), model.predict_proba(x)


def load_model(model_path: str | Path) -> Any:
    """The fitted model saved by `train_model`: a scikit-learn pipeline, or (net, config) for torch."""
    if Path(model_path).suffix == ".pt":
        info_path = Path(model_path).with_name("model.json")
        task = json.loads(info_path.read_text()).get("task_type") if info_path.is_file() else None
        if task == TaskType.IMAGE_CLASSIFICATION.value:
            from skills.image_cnn import load_image_net

            return load_image_net(model_path)
        from skills.torch_text import load_text_net

        return load_text_net(model_path)
    import joblib

    return joblib.load(model_path)
