"""Convert a trained pipeline to ONNX, check it reproduces the pipeline, and time it.

Input convention (the service and `skills.export.onnx_predict` rely on it):
- text models: one input "text", string tensor [None, 1];
- tabular models: one input per feature column, [None, 1], float for numbers and string for
  strings, named after the column (sanitized; the metadata maps names to columns).
Outputs: classifiers "label" and "probabilities" (columns in the order of the metadata's
"labels"); regressors "variable". The metadata key "trainer_agent" holds a JSON description.

    from trainer_agent.skills.export.export import export_onnx
    result = export_onnx(spec, data, train_result, "runs/<id>")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.benchmark import compare_runtimes
from trainer_agent.skills.export.export_image import export_image_model
from trainer_agent.skills.export.export_torch import export_torch_model
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.export.onnx_tail import (
    class_parity,
    example_input,
    finish_export,
    held_out_rows,
    write_onnx,
)
from trainer_agent.skills.export.timing import batches_of, percentiles, time_calls
from trainer_agent.skills.model.evaluate import compute_metrics
from trainer_agent.skills.model.families import for_model
from trainer_agent.skills.model.model_data import load_features
from trainer_agent.skills.model.model_files import load_model, read_model_info
from trainer_agent.skills.model.text_net import predict_proba
from trainer_agent.skills.specs import DataReport, ExportResult, Parity, TaskSpec, TaskType, TrainResult

LATENCY_CALLS = 200
BATCH_SIZE = 32


def measure_latency(
    predictor: OnnxPredictor, rows: list[Any], calls: int = LATENCY_CALLS
) -> dict[str, float]:
    """p50/p95/p99 in ms of single-row calls (input building included), after a short warm-up."""

    return percentiles(time_calls(lambda b: predictor.run(predictor.feeds(b)), batches_of(rows, 1), calls))


def export_onnx(
    spec: TaskSpec,
    data: DataReport,
    train: TrainResult,
    out_dir: str | Path,
    quantize: bool | None = None,
    tensorrt: str | None = "fp16",
    batch_size: int = BATCH_SIZE,
) -> ExportResult:
    """Write out_dir/exports/model.onnx, check parity with the pipeline on the test set, and
    benchmark it (batch 1 and `batch_size`, one onnxruntime thread). With `quantize` (None: only
    under a size, memory or latency limit of `spec`), also try an int8 copy, measured against the
    float model and served only when that limit needs it (skills.export.variant); with `tensorrt` (a
    precision), build a TensorRT engine where a GPU allows (else the result says why not)."""
    import numpy as np

    task = TaskType(spec.task_type)
    info = read_model_info(train.model_path)
    if task == TaskType.IMAGE_CLASSIFICATION:
        return export_image_model(
            spec, data, train, out_dir, quantize=quantize, tensorrt=tensorrt, batch_size=batch_size
        )
    if info.get("framework") == "torch":
        result = export_torch_model(spec, data, train, out_dir, quantize=quantize, batch_size=batch_size)
        rows = held_out_rows(task, info, data.test_path)[:LATENCY_CALLS]
        result.benchmark = {
            **result.benchmark,
            **torch_eager_comparison(train.model_path, result.onnx_path, rows),
        }
        return result
    family = for_model(task, "sklearn")
    assert family.to_onnx is not None  # every scikit-learn kind exports
    pipe = family.load(Path(train.model_path))
    path = write_onnx(family.to_onnx(pipe, info, example_input(task, info)), out_dir)
    predictor = OnnxPredictor(path)
    x_test, y_test = load_features(task, info, data.test_path)
    rows = held_out_rows(task, info, data.test_path)
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
        ref_labels, ref_proba = pipe.predict(x_test), pipe.predict_proba(x_test)
        parity = class_parity(task, y_test, onnx_out, onnx_proba, ref_labels, ref_proba, predictor.labels)
    return finish_export(
        path, rows, parity, batch_size, quantize, tensorrt, requirements=spec.requirements, truth=y_test
    )


# ---------------------------------------------------------------- parameter count of an ONNX file

_BRANCH_MODES = {b"BRANCH_LEQ", b"BRANCH_LT", b"BRANCH_GTE", b"BRANCH_GT", b"BRANCH_EQ", b"BRANCH_NEQ"}


def onnx_param_count(path: str | Path) -> int:
    """Learned numbers stored in an exported model, counted as `skills.model.model_size.count_params` counts
    them, to cross-check it:

    - float initializers (e.g. TF-IDF idf weights), all elements;
    - LinearClassifier/LinearRegressor coefficients + intercepts; a binary classifier stores the
      weights twice (-w, +w), counted once;
    - tree ensembles: feature id + threshold per branch node, every leaf weight, base values;
    - OneHotEncoder categories, Imputer values.
    Shape/axis constants (integer initializers) and TfIdfVectorizer's unit weights in TF mode are
    not learned and not counted; nor are LabelEncoder maps (a vocabulary's or an ordinal encoder's
    terms, a label tail), as `count_params` does not count a vocabulary's terms.
    """
    import numpy as np
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    total = 0
    for init in model.graph.initializer:
        if re.fullmatch(r"w\d+", init.name) and list(init.dims) == [1]:
            continue  # a voting ensemble's fixed member weight (skl2onnx names them w0, w1, ...)
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
        elif op == "Scaler":  # StandardScaler: offset (mean) and scale per column
            total += len(attrs.get("offset", [])) + len(attrs.get("scale", []))
        elif op == "Imputer":
            total += len(attrs.get("imputed_value_floats", [])) + len(attrs.get("imputed_value_int64s", []))
        elif op == "TfIdfVectorizer" and attrs.get("mode") not in (b"TF", "TF"):
            total += len(attrs.get("weights", []))
    return total


# ---------------------------------------------------------------- torch models


def torch_eager_comparison(model_path: str | Path, onnx_path: str | Path, rows: list[Any]) -> dict[str, Any]:
    """Batch-1 latency of a trained torch text net in PyTorch eager mode (tokenizing in Python)
    and of its ONNX export (tokenizing in the graph), both on one thread, on the same rows;
    `speedup_vs_eager` is the eager p50 over the ONNX p50."""
    import torch

    model, config = load_model(model_path)
    predictor = OnnxPredictor(onnx_path, threads=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        timing = compare_runtimes(
            {
                "pytorch_eager": lambda batch: predict_proba(model, config, batch),
                "onnxruntime": lambda batch: predictor.run(predictor.feeds(batch)),
            },
            batches_of(rows, 1),
            calls=100,
        )
    finally:
        torch.set_num_threads(threads)
    return {
        "pytorch_eager_batch_1_ms": timing["pytorch_eager"],
        "onnx_batch_1_ms": timing["onnxruntime"],
        "speedup_vs_eager": timing["speedup"]["onnxruntime"],
    }
