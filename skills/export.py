"""Convert a trained pipeline to ONNX, check it reproduces the pipeline, and time it.

Input convention (the service and `skills.onnx_predict` rely on it):
- text models: one input "text", string tensor [None, 1];
- tabular models: one input per feature column, [None, 1], float for numbers and string for
  strings, named after the column (sanitized; the metadata maps names to columns).
Outputs: classifiers "label" and "probabilities" (columns in the order of the metadata's
"labels"); regressors "variable". The metadata key "trainer_agent" holds a JSON description.

    from skills.export import export_onnx
    result = export_onnx(spec, data, train_result, "runs/<id>")
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from skills.errors import UserError
from skills.evaluate import compute_metrics
from skills.onnx_predict import META_KEY, OnnxPredictor
from skills.specs import DataReport, ExportResult, Parity, TaskSpec, TaskType, TrainResult
from skills.train import TOKEN_PATTERN, load_features, read_csv, read_model_info

# Opset 17 / ai.onnx.ml 3 run on every onnxruntime since 1.13 and keep tree ensembles in the
# attribute form that `onnx_param_count` reads.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
LATENCY_CALLS = 200
EXAMPLE_CHARS = 300


def _initial_types(info: dict[str, Any]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [
        (i["name"], FloatTensorType([None, 1]) if i["kind"] == "float" else StringTensorType([None, 1]))
        for i in info["inputs"]
    ]


def _options(pipe: Any) -> dict[int, dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    options: dict[int, dict[str, Any]] = {}
    for _, step in pipe.steps:
        if isinstance(step, TfidfVectorizer):
            # locale "C": onnxruntime here rejects the default (empty) StringNormalizer locale.
            options[id(step)] = {"locale": "C", "tokenexp": TOKEN_PATTERN}
        elif hasattr(step, "predict_proba"):
            options[id(step)] = {"zipmap": False}
    return options


def _example(task: TaskType, info: dict[str, Any], test_path: str) -> Any:
    """One input from the test set, for the API docs."""
    import pandas as pd

    frame = read_csv(test_path).head(1)
    if frame.empty:
        return None
    if task == TaskType.TEXT_CLASSIFICATION:
        return str(frame[info["text_column"]].iloc[0])[:EXAMPLE_CHARS]
    row: dict[str, float | str | None] = {}
    for spec in info["inputs"]:
        value = frame[spec["column"]].iloc[0]
        if pd.isna(value):
            row[spec["column"]] = None
        else:
            row[spec["column"]] = float(value) if spec["kind"] == "float" else str(value)
    return row


def convert(pipe: Any, info: dict[str, Any], example: Any = None) -> Any:
    """The ONNX ModelProto of a fitted pipeline, with trainer-agent's metadata."""
    from skl2onnx import convert_sklearn

    try:
        onx = convert_sklearn(
            pipe,
            name=info["family"],
            initial_types=_initial_types(info),
            options=_options(pipe),
            target_opset=TARGET_OPSET,
        )
    except Exception as err:  # a converter gap is a bug to report, but say which model failed
        raise RuntimeError(f"skl2onnx could not convert the {info['family']} pipeline: {err}") from err
    meta = {
        "task_type": info["task_type"],
        "labels": info.get("labels") or [],
        "inputs": info["inputs"],
        "text_column": info.get("text_column"),
        "label_column": info["label_column"],
        "family": info["family"],
        "params": info.get("params"),
        "example": example,
    }
    entry = onx.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onx.producer_name = "trainer-agent"
    onx.doc_string = f"{info['family']} for {info['task_type']}"
    return onx


def _rows(task: TaskType, info: dict[str, Any], test_path: str) -> list[Any]:
    """The test set as the predictor's plain-Python rows (strings or records by column)."""
    import pandas as pd

    frame = read_csv(test_path)
    if task == TaskType.TEXT_CLASSIFICATION:
        return ["" if pd.isna(v) else str(v) for v in frame[info["text_column"]]]
    cols = [i["column"] for i in info["inputs"]]
    records = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
    for rec in records:
        for spec in info["inputs"]:
            v = rec[spec["column"]]
            if v is not None:
                rec[spec["column"]] = float(v) if spec["kind"] == "float" else str(v)
    return records


def measure_latency(
    predictor: OnnxPredictor, rows: list[Any], calls: int = LATENCY_CALLS
) -> dict[str, float]:
    """p50/p95/p99 in ms of single-row calls (input building included), after a short warm-up."""
    import numpy as np

    if not rows:
        return {}
    for row in rows[:10]:
        predictor.run(predictor.feeds([row]))
    times = []
    for k in range(calls):
        row = rows[k % len(rows)]
        start = time.perf_counter()
        predictor.run(predictor.feeds([row]))
        times.append((time.perf_counter() - start) * 1000)
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {"p50": round(float(p50), 4), "p95": round(float(p95), 4), "p99": round(float(p99), 4)}


def export_onnx(spec: TaskSpec, data: DataReport, train: TrainResult, out_dir: str | Path) -> ExportResult:
    """Write out_dir/exports/model.onnx and measure parity and batch-1 latency on the test set."""
    import joblib
    import numpy as np

    task = TaskType(spec.task_type)
    info = read_model_info(train.model_path)
    pipe = joblib.load(train.model_path)
    onx = convert(pipe, info, _example(task, info, data.test_path))
    path = Path(out_dir) / "exports" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onx.SerializeToString())

    predictor = OnnxPredictor(path)
    x_test, y_test = load_features(task, info, data.test_path)
    rows = _rows(task, info, data.test_path)
    if not rows:
        raise UserError(f"Test data {data.test_path} has no rows to check the exported model on.")
    try:
        onnx_out, onnx_proba = predictor.run(predictor.feeds(rows))
    except ValueError as err:
        raise UserError(f"Test data {data.test_path} does not fit the model's inputs: {err}") from err

    if task == TaskType.TABULAR_REGRESSION:
        ref = np.asarray(pipe.predict(x_test), dtype=float)
        diff = np.abs(onnx_out - ref)
        # float32 inference: a prediction "agrees" within a relative 1e-4
        agree = float(np.mean(diff <= 1e-4 * np.maximum(1.0, np.abs(ref))))
        parity = Parity(
            n=len(rows),
            label_agreement=agree,
            max_abs_diff=float(diff.max()),
            onnx_metrics=compute_metrics(task, y_test, onnx_out),
        )
    else:
        ref_labels = np.asarray(pipe.predict(x_test)).astype(str)
        ref_proba = np.asarray(pipe.predict_proba(x_test), dtype=float)
        parity = Parity(
            n=len(rows),
            label_agreement=float(np.mean(onnx_out == ref_labels)),
            max_abs_diff=float(np.abs(onnx_proba - ref_proba).max()),
            onnx_metrics=compute_metrics(task, y_test, onnx_out, onnx_proba, predictor.labels),
        )
    return ExportResult(
        onnx_path=str(path),
        size_bytes=path.stat().st_size,
        parity=parity,
        latency_ms=measure_latency(predictor, rows),
    )


# ---------------------------------------------------------------- parameter count of an ONNX file

_BRANCH_MODES = {b"BRANCH_LEQ", b"BRANCH_LT", b"BRANCH_GTE", b"BRANCH_GT", b"BRANCH_EQ", b"BRANCH_NEQ"}


def onnx_param_count(path: str | Path) -> int:
    """Learned numbers stored in an exported model, counted as `skills.train.count_params` counts
    them, to cross-check it:

    - float initializers (e.g. TF-IDF idf weights), all elements;
    - LinearClassifier/LinearRegressor coefficients + intercepts; a binary classifier stores the
      weights twice (-w, +w), counted once;
    - tree ensembles: feature id + threshold per branch node, every leaf weight, base values;
    - OneHotEncoder categories, Imputer values.
    Shape/axis constants (integer initializers) and TfIdfVectorizer's unit weights in TF mode are
    not learned and not counted.
    """
    import numpy as np
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    total = 0
    for init in model.graph.initializer:
        if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            total += int(np.prod(init.dims)) if init.dims else 1
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        op = node.op_type
        if op in ("LinearClassifier", "LinearRegressor"):
            coef = np.asarray(attrs.get("coefficients", []), dtype=float)
            inter = np.asarray(attrs.get("intercepts", []), dtype=float)
            n_cls = len(attrs.get("classlabels_strings", []) or attrs.get("classlabels_ints", []))
            if op == "LinearClassifier" and n_cls == 2 and len(inter) == 2:
                half = coef.reshape(2, -1)
                if np.allclose(half[0], -half[1]) and np.isclose(inter[0], -inter[1]):
                    coef, inter = half[1], inter[1:]
            total += coef.size + inter.size
        elif op.startswith("TreeEnsemble"):
            modes = attrs.get("nodes_modes", [])
            branches = sum(1 for m in modes if m in _BRANCH_MODES)
            weights = attrs.get("class_weights", attrs.get("target_weights", []))
            total += 2 * branches + len(weights) + len(attrs.get("base_values", []))
        elif op == "OneHotEncoder":
            total += len(attrs.get("cats_strings", [])) + len(attrs.get("cats_int64s", []))
        elif op == "Imputer":
            total += len(attrs.get("imputed_value_floats", [])) + len(attrs.get("imputed_value_int64s", []))
        elif op == "TfIdfVectorizer" and attrs.get("mode") not in (b"TF", "TF"):
            total += len(attrs.get("weights", []))
    return total
