"""The end every export shares, whatever the family: the ONNX file's metadata, its test rows and
example input, writing it, the parity check against the trained model, then the benchmark, the
int8 copy and the TensorRT engine (`finish_export`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer_agent.skills.export.onnx_predict import META_KEY
from trainer_agent.skills.model.evaluate import compute_metrics
from trainer_agent.skills.model.model_data import read_csv
from trainer_agent.skills.specs import ExportResult, Parity, TaskType

PARITY_SAMPLE = 2000  # test rows the int8 / TensorRT copies are checked on


EXAMPLE_CHARS = 300


def example_input(task: TaskType, info: dict[str, Any]) -> Any:
    """A made-up input of the model's shape and types for its metadata (the API docs, error hints):
    never a row of the data, which would end up in every document and error answer."""
    from trainer_agent.skills.serve.examples import synthetic_example

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
    quantize: bool,
    tensorrt: str | None,
    tensorrt_skip: str = "",
) -> ExportResult:
    """The checked export: benchmark `path` on `rows`, then an int8 copy (with `quantize`) and a
    TensorRT engine (a precision, where a GPU allows; `tensorrt_skip` says why none is tried)."""
    import logging

    from trainer_agent.skills.export.benchmark import benchmark_model
    from trainer_agent.skills.export.quantize import quantize_int8
    from trainer_agent.skills.export.tensorrt_convert import tensorrt_engine

    bench = benchmark_model(path, rows, batch_size=batch_size)
    sample = rows[:PARITY_SAMPLE]
    logging.disable(logging.WARNING)  # onnxruntime's quantizer logs advice on Conv graphs to the root logger
    try:
        quantization = quantize_int8(path, sample) if quantize else {"status": "off"}
    finally:
        logging.disable(logging.NOTSET)
    if tensorrt_skip:
        engine: dict[str, Any] = {"status": "skipped", "reason": tensorrt_skip}
    else:
        engine = tensorrt_engine(path, sample, precision=tensorrt) if tensorrt else {"status": "off"}
    return ExportResult(
        onnx_path=str(path),
        size_bytes=path.stat().st_size,
        parity=parity,
        latency_ms=bench["batch_1_ms"],
        benchmark=bench,
        quantization=quantization,
        tensorrt=engine,
    )
