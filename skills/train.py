"""Train the Model agent's baseline for a task and evaluate it on the held-out split.

Text classification: TF-IDF (word 1-2 grams) -> logistic regression. Tabular: median imputing of
numbers and one-hot encoding of strings -> gradient boosting. Every model is chosen so that it
converts to ONNX with exact parity (see `skills.export`), and shrunk until it meets a "params" or
"size_bytes" requirement when one is given.

    from skills.train import train_model
    result = train_model(spec, data_report, "runs/<id>", seed=0)
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

from skills.errors import UserError
from skills.evaluate import compute_metrics
from skills.specs import DataReport, Requirement, TaskSpec, TaskType, TrainResult

# ASCII words of two characters or more: the same expression runs in scikit-learn and in the
# ONNX Tokenizer (re2), so both see the same tokens. sklearn's default `(?u)\b\w\w+\b` is
# converted by skl2onnx to `[a-zA-Z0-9_]+`, which keeps one-letter tokens and breaks bigrams.
TOKEN_PATTERN = r"[a-zA-Z0-9_]{2,}"
DEFAULT_MAX_FEATURES = 50_000
C_GRID = (1.0, 4.0, 16.0)
CV_MAX_ROWS = 20_000  # tune C by cross-validation only below this many training rows
GB_N_ESTIMATORS = 100
GB_MAX_DEPTH = 3

FAMILIES = {
    TaskType.TEXT_CLASSIFICATION: "tfidf-logistic-regression",
    TaskType.TABULAR_CLASSIFICATION: "gradient-boosting-classifier",
    TaskType.TABULAR_REGRESSION: "gradient-boosting-regressor",
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


def load_features(task: TaskType, info: dict[str, Any], path: str | Path) -> tuple[Any, Any]:
    """(X, y) of a CSV in the form the fitted pipeline takes, from the model's `model.json` info."""
    frame = read_csv(path)
    if task == TaskType.TEXT_CLASSIFICATION:
        x = text_values(frame, info["text_column"], path)
    else:
        x = tabular_frame(frame, info["inputs"], path)
    return x, labels_of(task, frame, info["label_column"], path)


# ---------------------------------------------------------------- parameters


def _tree_params(tree: Any) -> int:
    t = tree.tree_
    leaves = int((t.children_left == -1).sum())
    per_leaf = int(t.value.shape[1] * t.value.shape[2])
    return 2 * (t.node_count - leaves) + leaves * per_leaf


def count_params(model: Any) -> int:
    """Learned numbers the model needs at prediction time.

    - TF-IDF: one idf weight per vocabulary term (the terms themselves are not counted).
    - Linear models: coef_ + intercept_.
    - Trees: feature index and threshold per split node, one value per output per leaf
      (the values scikit-learn keeps on inner nodes are unused and not counted), plus the
      boosting baseline per output. This is what the ONNX tree ensemble stores.
    - Imputers: one statistic per column; one-hot encoders: one per category.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import BaseDecisionTree

    if isinstance(model, Pipeline):
        return sum(count_params(step) for _, step in model.steps if step not in (None, "passthrough"))
    if isinstance(model, ColumnTransformer):
        return sum(count_params(t) for _, t, _ in model.transformers_ if t not in ("drop", "passthrough"))
    if isinstance(model, TfidfVectorizer):
        return len(model.idf_) if model.use_idf else 0
    if isinstance(model, SimpleImputer):
        return len(model.statistics_)
    if isinstance(model, OneHotEncoder):
        return sum(len(c) for c in model.categories_)
    if isinstance(model, (GradientBoostingClassifier, GradientBoostingRegressor)):
        trees = model.estimators_
        return int(trees.shape[1]) + sum(_tree_params(t) for t in trees.ravel())
    if isinstance(model, BaseDecisionTree):
        return _tree_params(model)
    if hasattr(model, "coef_"):
        return int(np.size(model.coef_) + np.size(getattr(model, "intercept_", 0)))
    return 0


# ---------------------------------------------------------------- limits


def _upper_limit(requirements: list[Requirement], name: str) -> int | None:
    """The largest integer allowed by "<"/"<=" requirements on `name`, or None."""
    limit = None
    for req in requirements:
        if req.name != name or req.op not in ("<", "<="):
            continue
        value = math.ceil(req.target) - 1 if req.op == "<" else math.floor(req.target)
        limit = value if limit is None else min(limit, value)
    return limit


def _onnx_or_saved_size(pipe: Any, saved: int, info: dict[str, Any]) -> int:
    """The larger of the joblib file and the ONNX file the model converts to (the report checks
    a size requirement against the ONNX file, which is about twice the compressed joblib for text)."""
    from skills.export import convert  # imported here: skills.export imports this module

    meta = dict(info, labels=[str(c) for c in getattr(pipe, "classes_", [])])
    metadata = 600 + 150 * len(info["inputs"])  # the export adds an example input and the schema
    return max(saved, len(convert(pipe, meta).SerializeToString()) + metadata)


def _save(pipe: Any, path: Path) -> int:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipe, path, compress=3)
    return path.stat().st_size


# ---------------------------------------------------------------- text


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


def select_vocabulary(x: Any, max_features: int) -> list[str]:
    """The `max_features` most frequent terms (min_df=2), less any word pair whose words are not
    terms themselves.

    skl2onnx decides how to split a pair by looking its words up in the vocabulary, and takes a
    pair with an unknown word for one token containing a space, which never matches in ONNX. Such
    pairs appear only at the frequency cut-off (a word is at least as frequent as its pairs).
    """
    vocab = _vectorizer(max_features=max_features).fit(x).vocabulary_
    return sorted(t for t in vocab if all(w in vocab for w in t.split(" ")))


def _logreg(c: float, class_weight: str | None, binary: bool, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # liblinear is 5-30x faster than lbfgs on sparse binary problems here; multinomial needs lbfgs.
    solver = "liblinear" if binary else "lbfgs"
    return LogisticRegression(C=c, max_iter=1000, class_weight=class_weight, solver=solver, random_state=seed)


def _text_pipeline(vocabulary: list[str], c: float, class_weight: str | None, binary: bool, seed: int) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("tfidf", _vectorizer(vocabulary)), ("clf", _logreg(c, class_weight, binary, seed))])


def _tune_c(x: Any, y: Any, vocabulary: list[str], class_weight: str | None, scoring: str, seed: int):
    """Pick C by 3-fold CV on one fitted vocabulary (cheap; idf leaks across folds, which shifts
    all candidates alike)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    xm = _vectorizer(vocabulary).fit_transform(x)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    scores = {}
    for c in C_GRID:
        lr = _logreg(c, class_weight, len(np.unique(y)) == 2, seed)
        scores[c] = float(cross_val_score(lr, xm, y, cv=cv, scoring=scoring).mean())
    best = max(scores, key=lambda k: scores[k])
    return best, scores


def _limit_phrase(req_op: str, limit: int, what: str) -> str:
    return f"under {limit + 1:,} {what}" if req_op == "<" else f"at most {limit:,} {what}"


def _train_text(spec, x, y, seed, notes, hyper) -> Any:
    import numpy as np

    n_classes = len(np.unique(y))
    rows = 1 if n_classes == 2 else n_classes  # coef_ rows of LogisticRegression
    macro = any(r.name in ("f1", "precision", "recall") or r.label for r in spec.requirements)
    class_weight = "balanced" if macro else None
    if macro:
        notes.append(
            "Classes weighted inversely to their frequency because a requirement is on F1, "
            "precision or recall."
        )
    max_features = DEFAULT_MAX_FEATURES
    param_limit = _upper_limit(spec.requirements, "params")
    if param_limit is not None:
        cap = (param_limit - rows) // (rows + 1)  # idf + coef per term, plus intercepts
        if cap < 1:
            notes.append(f"No TF-IDF model fits within {param_limit:,} parameters; the smallest was kept.")
            cap = 1
        if cap < max_features:
            max_features = cap
            op = next(r.op for r in spec.requirements if r.name == "params" and r.op in ("<", "<="))
            notes.append(
                f"TF-IDF vocabulary capped at {cap:,} features so the model stays "
                f"{_limit_phrase(op, param_limit, 'parameters')}."
            )
    vocabulary = select_vocabulary(x, max_features)

    c = 4.0
    if len(y) <= CV_MAX_ROWS and np.min(np.unique(y, return_counts=True)[1]) >= 3:
        scoring = "f1_macro" if macro else "accuracy"
        c, scores = _tune_c(x, y, vocabulary, class_weight, scoring, seed)
        listed = ", ".join(f"C={k:g}: {v:.3f}" for k, v in scores.items())
        notes.append(f"C={c:g} chosen by 3-fold cross-validation on {scoring} ({listed}).")
    else:
        notes.append(f"C={c:g} without tuning (more than {CV_MAX_ROWS:,} rows or a class under 3 rows).")
    pipe = _text_pipeline(vocabulary, c, class_weight, n_classes == 2, seed).fit(x, y)
    hyper.update(
        {
            "ngram_range": [1, 2],
            "min_df": 2,
            "max_features": max_features,
            "vocabulary": len(vocabulary),
            "token_pattern": TOKEN_PATTERN,
            "C": c,
            "class_weight": class_weight,
            "solver": pipe.named_steps["clf"].solver,
        }
    )
    notes.append(
        "Tokens are ASCII words of 2+ characters and term frequency is linear (not sublinear): both "
        "convert to ONNX exactly (skl2onnx turns sublinear_tf into log(1+tf))."
    )
    return pipe


def _shrink_text(spec, pipe, x, y, size_limit, path, seed, notes, hyper, info) -> tuple[Any, int]:
    size = _save(pipe, path)
    largest = _onnx_or_saved_size(pipe, size, info)
    for _ in range(4):
        if largest <= size_limit:
            break
        vocab = len(pipe.named_steps["tfidf"].vocabulary_)
        new = max(1, int(vocab * size_limit / largest * 0.9))
        if new >= vocab:
            break
        clf = pipe.named_steps["clf"]
        vocabulary = select_vocabulary(x, new)
        binary = len(clf.classes_) == 2
        pipe = _text_pipeline(vocabulary, clf.C, clf.class_weight, binary, seed).fit(x, y)
        size = _save(pipe, path)
        largest = _onnx_or_saved_size(pipe, size, info)
        hyper["max_features"] = new
        hyper["vocabulary"] = len(vocabulary)
    if hyper["max_features"] < DEFAULT_MAX_FEATURES:
        op = next(r.op for r in spec.requirements if r.name == "size_bytes" and r.op in ("<", "<="))
        goal = _limit_phrase(op, size_limit, "bytes")
        done = f"stays {goal}" if largest <= size_limit else f"gets closer to {goal}"
        notes.append(
            f"TF-IDF vocabulary cut to {hyper['vocabulary']:,} terms so the model file {done} "
            f"(about {largest:,} bytes as ONNX)."
        )
    return pipe, size


# ---------------------------------------------------------------- tabular


def _tabular_pipeline(task, inputs, n_estimators, max_depth, seed) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    num = [i["name"] for i in inputs if i["kind"] == "float"]
    cat = [i["name"] for i in inputs if i["kind"] == "string"]
    parts = []
    if num:
        parts.append(("num", SimpleImputer(strategy="median", keep_empty_features=True), num))
    if cat:
        # Missing strings arrive as "" (a string tensor has no NaN), so "" is just a category here
        # and no string imputer is needed.
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat))
    gb = GradientBoostingClassifier if task == TaskType.TABULAR_CLASSIFICATION else GradientBoostingRegressor
    model = gb(n_estimators=n_estimators, max_depth=max_depth, random_state=seed)
    return Pipeline([("prep", ColumnTransformer(parts)), ("model", model)])


def _train_tabular(spec, task, info, x, y, path, seed, notes, hyper) -> tuple[Any, int]:
    """Fit, then shrink the ensemble (fewer trees, then shallower) until the limits hold."""
    param_limit = _upper_limit(spec.requirements, "params")
    size_limit = _upper_limit(spec.requirements, "size_bytes")
    inputs = info["inputs"]
    n_est, depth = GB_N_ESTIMATORS, GB_MAX_DEPTH
    for _ in range(8):
        pipe = _tabular_pipeline(task, inputs, n_est, depth, seed).fit(x, y)
        params, size = count_params(pipe), _save(pipe, path)
        largest = _onnx_or_saved_size(pipe, size, info) if size_limit is not None else size
        gb = pipe.named_steps["model"]
        tree_params = sum(_tree_params(t) for t in gb.estimators_.ravel())
        fixed = params - tree_params
        ratios = []
        if param_limit is not None and params > param_limit:
            ratios.append((param_limit - fixed) / max(tree_params, 1))
        if size_limit is not None and largest > size_limit:
            ratios.append(size_limit / largest * 0.9)
        if not ratios:
            break
        ratio = min(ratios)
        new_n = int(n_est * ratio)
        if 1 <= new_n < n_est:
            n_est = new_n
        elif depth > 1:
            depth -= 1
        elif n_est > 1:
            n_est = 1
        else:
            notes.append(
                "Even a single depth-1 tree breaks the size or parameter limit; the smallest model was kept."
            )
            break
    if (n_est, depth) != (GB_N_ESTIMATORS, GB_MAX_DEPTH):
        notes.append(
            f"Gradient boosting shrunk to {n_est} trees of depth {depth} (from {GB_N_ESTIMATORS} of depth "
            f"{GB_MAX_DEPTH}) to meet the parameter/size limit."
        )
    hyper.update({"n_estimators": n_est, "max_depth": depth, "learning_rate": 0.1})
    hyper["numeric_columns"] = [i["column"] for i in inputs if i["kind"] == "float"]
    hyper["categorical_columns"] = [i["column"] for i in inputs if i["kind"] == "string"]
    return pipe, size


# ---------------------------------------------------------------- entry point


def train_model(spec: TaskSpec, data: DataReport, out_dir: str | Path, seed: int = 0) -> TrainResult:
    """Train on `data.train_path`, evaluate on `data.test_path`, and write under `out_dir`:
    models/model.joblib (the fitted pipeline), models/model.json (its inputs, labels, settings)
    and model_card.md."""
    import numpy as np

    task = TaskType(spec.task_type)
    if task not in FAMILIES:
        raise UserError(f"Task type '{task.value}' is not supported by the trainer yet.")
    out = Path(out_dir)
    model_path = out / "models" / "model.joblib"
    train_df = read_csv(data.train_path)
    label_column = data.label_column or spec.label_column
    if not label_column:
        raise UserError("No label column was given for training.")
    y = labels_of(task, train_df, label_column, data.train_path)
    if task != TaskType.TABULAR_REGRESSION and len(np.unique(y)) < 2:
        raise UserError(
            f"Label column '{label_column}' in {data.train_path} has a single class; a classifier "
            "needs at least two."
        )

    notes: list[str] = []
    hyper: dict[str, Any] = {}
    info: dict[str, Any] = {
        "task_type": task.value,
        "family": FAMILIES[task],
        "label_column": label_column,
        "text_column": None,
        "inputs": [],
    }
    start = time.perf_counter()
    if task == TaskType.TEXT_CLASSIFICATION:
        text_column = data.text_column or spec.text_column
        if not text_column:
            raise UserError("No text column was given for text classification.")
        info["text_column"] = text_column
        info["inputs"] = [{"name": "text", "column": text_column, "kind": "string"}]
        x = text_values(train_df, text_column, data.train_path)
        pipe = _train_text(spec, x, y, seed, notes, hyper)
        size_limit = _upper_limit(spec.requirements, "size_bytes")
        if size_limit is not None:
            pipe, size = _shrink_text(spec, pipe, x, y, size_limit, model_path, seed, notes, hyper, info)
        else:
            size = _save(pipe, model_path)
    else:
        columns = data.feature_columns or spec.feature_columns
        if not columns:
            columns = [c for c in train_df.columns if c != label_column]
        if not columns:
            raise UserError(f"{data.train_path} has no feature columns besides the label '{label_column}'.")
        info["inputs"] = tabular_inputs(train_df, list(columns))
        x = tabular_frame(train_df, info["inputs"], data.train_path)
        pipe, size = _train_tabular(spec, task, info, x, y, model_path, seed, notes, hyper)
    train_seconds = time.perf_counter() - start

    params = count_params(pipe)
    if (limit := _upper_limit(spec.requirements, "params")) is not None and params > limit:
        notes.append(f"The smallest model tried has {params:,} parameters, over the limit of {limit:,}.")
    labels = [str(c) for c in pipe.classes_] if task != TaskType.TABULAR_REGRESSION else []
    info.update({"labels": labels, "hyperparameters": hyper, "params": params, "seed": seed})

    x_test, y_test = load_features(task, info, data.test_path)
    if task == TaskType.TABULAR_REGRESSION:
        metrics = compute_metrics(task, y_test, pipe.predict(x_test))
    else:
        metrics = compute_metrics(task, y_test, pipe.predict(x_test), pipe.predict_proba(x_test), labels)

    (out / "models" / "model.json").write_text(json.dumps(info, indent=2) + "\n")
    result = TrainResult(
        family=info["family"],
        params=params,
        size_bytes=size,
        model_path=str(model_path),
        labels=labels,
        metrics=metrics,
        train_seconds=round(train_seconds, 3),
        notes=notes,
        model_card="model_card.md",
    )
    write_model_card(out / "model_card.md", spec, data, result, hyper)
    return result


def read_model_info(model_path: str | Path) -> dict[str, Any]:
    """The `model.json` saved next to a trained model."""
    path = Path(model_path).with_name("model.json")
    if not path.is_file():
        raise UserError(f"{path} is missing; train the model again to write it.")
    return json.loads(path.read_text())


def write_model_card(path: Path, spec: TaskSpec, data: DataReport, result: TrainResult, hyper: dict) -> None:
    task = TaskType(spec.task_type)
    source = "given by the user" if data.test_from == "user" else "split from the data"
    lines = [
        "# Model card",
        "",
        "## Intended use",
        spec.request.strip() or "(no request text)",
        "",
        f"Task: {task.value.replace('_', ' ')}."
        + (f" Classes: {', '.join(result.labels)}." if result.labels else ""),
        "",
        "## Data",
        f"- Training: `{data.train_path}` ({data.n_train:,} rows); held-out test: `{data.test_path}` "
        f"({data.n_test:,} rows, {source}).",
        f"- Label column: `{data.label_column}`"
        + (f"; text column: `{data.text_column}`" if data.text_column else "")
        + (f"; features: {', '.join(f'`{c}`' for c in data.feature_columns)}" if data.feature_columns else "")
        + ".",
        f"- See `{data.data_card}` for the data card.",
        "",
        "## Model",
        f"- Family: {result.family}",
        f"- Parameters: {result.params:,} (see `skills.train.count_params` for what is counted)",
        f"- Saved size: {result.size_bytes:,} bytes (`{Path(result.model_path).name}`, joblib)",
        f"- Training time: {result.train_seconds:.1f} s",
        "- Hyperparameters:",
        *[f"  - {k}: {v}" for k, v in hyper.items()],
        "",
        "## Held-out metrics",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in result.metrics.items()],
        "",
        "Requirements, targets against what was achieved, are in the run report.",
        "",
        "## Notes",
        *([f"- {n}" for n in result.notes] or ["- none"]),
        "",
        "## Limits",
        "- Measured on one held-out split of the data given; other data (other sources, later dates, "
        "other wording or populations) may score lower.",
    ]
    if task == TaskType.TEXT_CLASSIFICATION:
        lines.append(
            "- A bag of words and word pairs: it ignores word order beyond pairs, sarcasm and context, "
            "and only ASCII words count (other scripts are ignored)."
        )
    else:
        lines.append(
            "- Categories unseen in training are ignored; numbers far outside the training range get "
            "the prediction of the nearest seen values."
        )
    lines.append("- Not for decisions about people without human review.")
    path.write_text("\n".join(lines) + "\n")
