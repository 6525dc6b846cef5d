"""Export of a trained image model (`skills.model.train_image`): the graph
(`skills.export.image_onnx`), parity with the model on the held-out images (decoded as the service
decodes them) and the benchmark (`skills.export.onnx_tail`).

    result = export_image_model(spec, data, train_result, "runs/<id>")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer_agent.skills.data.image_data import encode_png, open_image
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.image_onnx import EXAMPLE_SIDE
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.export.onnx_tail import class_parity, finish_export, write_onnx
from trainer_agent.skills.model.families import for_model
from trainer_agent.skills.model.model_data import load_features
from trainer_agent.skills.model.model_files import load_model, predict_with, read_model_info
from trainer_agent.skills.specs import DataReport, ExportResult, TaskSpec, TaskType, TrainResult


def image_files(csv_path: str | Path, info: dict[str, Any]) -> list[Path]:
    """The image files a prepared CSV lists (paths relative to its folder)."""
    import pandas as pd

    base = Path(csv_path).parent
    return [base / str(p) for p in pd.read_csv(csv_path)[info["inputs"][0]["column"]]]


def export_image_model(
    spec: TaskSpec,
    data: DataReport,
    train: TrainResult,
    out_dir: str | Path,
    quantize: bool | None = None,
    tensorrt: str | None = "fp16",
    batch_size: int = 32,
) -> ExportResult:
    """Write out_dir/exports/model.onnx for an image model; check parity with the trained model on
    the test images (sent through the predictor as base64 PNGs, so decoding is checked too)."""
    from PIL import Image

    task = TaskType(spec.task_type)
    info = read_model_info(train.model_path)
    model = load_model(train.model_path)
    files = image_files(data.test_path, info)
    if not files:
        raise UserError(f"Test data {data.test_path} has no images to check the exported model on.")
    rows = [encode_png(open_image(f)) for f in files]  # base64 PNGs, as a client sends them
    side = min(int(info["inputs"][0]["side"]), EXAMPLE_SIDE)  # a blank image: no picture of the data
    family = for_model(task, info.get("framework") or "sklearn", model)
    assert family.to_onnx is not None  # every image kind exports
    path = write_onnx(family.to_onnx(model, info, encode_png(Image.new("L", (side, side), 255))), out_dir)

    predictor = OnnxPredictor(path)
    onnx_labels, onnx_proba = predictor.run(predictor.feeds(rows))
    x_test, y_test = load_features(task, info, data.test_path)
    ref_labels, ref_proba = predict_with(info, model, x_test)
    parity = class_parity(task, y_test, onnx_labels, onnx_proba, ref_labels, ref_proba, predictor.labels)
    return finish_export(
        path, rows, parity, batch_size, quantize, tensorrt, requirements=spec.requirements, truth=y_test
    )
