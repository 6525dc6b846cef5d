"""Export of a trained PyTorch text net (`skills.model.torch_text`, `skills.model.hf_text`,
`skills.model.embed_text`): the graph (`skills.export.text_net_onnx`), parity with the net on the
held-out rows and the benchmark (`skills.export.onnx_tail`). `skills.export.export.export_onnx` hands
models whose model.json says framework "torch" to `export_torch_model`.

    result = export_torch_model(spec, data, train_result, "runs/<id>")
"""

from __future__ import annotations

from pathlib import Path

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.export.onnx_tail import (
    class_parity,
    example_input,
    finish_export,
    held_out_rows,
    write_onnx,
)
from trainer_agent.skills.model.families import for_model
from trainer_agent.skills.model.model_files import load_model, read_model_info
from trainer_agent.skills.specs import DataReport, ExportResult, TaskSpec, TaskType, TrainResult


def export_torch_model(
    spec: TaskSpec,
    data: DataReport,
    train: TrainResult,
    out_dir: str | Path,
    quantize: bool | None = None,
    batch_size: int = 32,
) -> ExportResult:
    """Write out_dir/exports/model.onnx for a torch text net and check it as `export_onnx` does."""
    import numpy as np
    import pandas as pd

    task = TaskType(spec.task_type)
    info = read_model_info(train.model_path)
    model = load_model(train.model_path)
    family = for_model(task, "torch", model)
    assert family.to_onnx is not None, f"{family.kind} nets are not exported"
    path = write_onnx(family.to_onnx(model, info, example_input(task, info)), out_dir)

    rows = held_out_rows(task, info, data.test_path)
    if not rows:
        raise UserError(f"Test data {data.test_path} has no rows to check the exported model on.")
    predictor = OnnxPredictor(path)
    onnx_labels, onnx_proba = predictor.run(predictor.feeds(rows))
    ref_labels, ref_proba = family.predict(model, rows)
    ref_proba = np.asarray(ref_proba, dtype=float)
    y_test = [str(v) for v in pd.read_csv(data.test_path)[info["label_column"]]]
    parity = class_parity(task, y_test, onnx_labels, onnx_proba, ref_labels, ref_proba, predictor.labels)
    return finish_export(
        path,
        rows,
        parity,
        batch_size,
        quantize,
        tensorrt=None,
        tensorrt_skip="the graph tokenizes strings (onnxruntime contrib ops), which TensorRT cannot run",
        requirements=spec.requirements,
        truth=y_test,
    )
