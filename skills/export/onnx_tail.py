"""The end every export shares, whatever the family: the ONNX file's metadata, its test rows and
example input, writing it, the parity check against the trained model, then the benchmark, the
int8 copy and the TensorRT engine (`finish_export`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.export.benchmark import benchmark_model
from trainer_agent.skills.export.onnx_predict import META_KEY
from trainer_agent.skills.export.quantize import quantize_int8
from trainer_agent.skills.export.tensorrt_convert import tensorrt_engine
from trainer_agent.skills.export.variant import INT8_FILE, choose_int8, int8_wanted
from trainer_agent.skills.model.evaluate import compute_metrics
from trainer_agent.skills.model.model_data import read_csv
from trainer_agent.skills.serve.examples import synthetic_example
from trainer_agent.skills.specs import ExportResult, Parity, Requirement, TaskType

PARITY_SAMPLE = 2000  # test rows the TensorRT engine is checked on (the int8 copy: all of them)


EXAMPLE_CHARS = 300


def example_input(task: TaskType, info: dict[str, Any]) -> Any:
    """A made-up input of the model's shape and types for its metadata (the API docs, error hints):
    never a row of the data, which would end up in every document and error answer."""

    return synthetic_example(task, info["inputs"])


def stamp_metadata(onx: Any, info: dict[str, Any], labels: list[str], example: Any) -> Any:
    """Write the `trainer_agent` metadata the predictor and the service read into an ONNX model."""
    meta = {
        "task_type": info["task_type"],
        "labels": labels,
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


def held_out_rows(task: TaskType, info: dict[str, Any], test_path: str) -> list[Any]:
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


def write_onnx(onx: Any, out_dir: str | Path) -> Path:
    """out_dir/exports/model.onnx, written."""
    path = Path(out_dir) / "exports" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onx.SerializeToString())
    return path


def class_parity(
    task: TaskType,
    y_test: Any,
    onnx_labels: Any,
    onnx_proba: Any,
    ref_labels: Any,
    ref_proba: Any,
    labels: list[str],
) -> Parity:
    """How far a classifier's ONNX outputs are from the trained model's on the same test rows."""
    import numpy as np

    return Parity(
        n=len(onnx_labels),
        label_agreement=float(np.mean(onnx_labels == np.asarray(ref_labels).astype(str))),
        max_abs_diff=float(np.abs(onnx_proba - np.asarray(ref_proba, dtype=float)).max()),
        onnx_metrics=compute_metrics(task, y_test, onnx_labels, onnx_proba, labels),
    )


def finish_export(
    path: Path,
    rows: list[Any],
    parity: Parity,
    batch_size: int,
    quantize: bool | None,
    tensorrt: str | None,
    tensorrt_skip: str = "",
    requirements: Sequence[Requirement] = (),
    truth: Sequence[Any] | None = None,
) -> ExportResult:
    """The checked export: benchmark `path` on `rows`, then an int8 copy and a TensorRT engine (a
    precision, where a GPU allows; `tensorrt_skip` says why none is tried).

    The int8 copy is tried when `quantize` is true, or when it is None and `requirements` state a
    size, memory or latency limit (`skills.export.variant`); it is measured against the float model
    on `rows` (with `truth`, the held-out metrics of both) and served only when that limit needs it."""

    (path.parent / INT8_FILE).unlink(missing_ok=True)  # an earlier export's copy is not this model's
    bench = benchmark_model(path, rows, batch_size=batch_size)
    sample = rows[:PARITY_SAMPLE]
    tried = int8_wanted(requirements) if quantize is None else quantize
    logging.disable(logging.WARNING)  # onnxruntime's quantizer logs advice on Conv graphs to the root logger
    try:
        if tried:
            quantization = choose_int8(quantize_int8(path, rows, truth=truth), requirements)
        else:
            why = "no size, latency or memory limit is stated, so int8 has nothing to earn"
            if quantize is False:
                why = "export_model(quantize=false), " + (
                    "although a size, latency or memory limit is stated"
                    if int8_wanted(requirements)
                    else f"and {why}"
                )
            quantization = {"status": "off", "reason": f"not tried: {why}"}
    finally:
        logging.disable(logging.NOTSET)
    if tensorrt_skip:
        engine: dict[str, Any] = {"status": "skipped", "reason": tensorrt_skip}
    else:
        engine = tensorrt_engine(path, sample, precision=tensorrt) if tensorrt else {"status": "off"}
    kept = quantization.get("status") == "kept"
    if kept:  # the served file's own in-process benchmark, for the service's documents
        quantization["benchmark"] = benchmark_model(Path(quantization["path"]), rows, batch_size=batch_size)
    return ExportResult(
        onnx_path=str(path),
        size_bytes=path.stat().st_size,
        parity=parity,
        latency_ms=bench["batch_1_ms"],
        benchmark=bench,
        quantization=quantization,
        tensorrt=engine,
        served="int8" if kept else "float",
        served_path=str(quantization["path"]) if kept else str(path),
    )
