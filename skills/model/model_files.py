"""A trained model's files: models/model.joblib or model.pt and models/model.json (its inputs,
labels and settings); loading and predicting with them through the family table
(`skills.model.families`), which knows how each kind is stored.

    info = read_model_info("runs/<id>/models/model.pt")
    pred, proba = predict_with(info, load_model("runs/<id>/models/model.pt"), x)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model import families
from trainer_agent.skills.model.pipeline_io import save_joblib as save_joblib  # kept importable from here
from trainer_agent.skills.specs import TaskType


def read_model_info(model_path: str | Path) -> dict[str, Any]:
    """The `model.json` saved next to a trained model."""
    path = Path(model_path).with_name("model.json")
    if not path.is_file():
        raise UserError(f"{path} is missing; train the model again to write it.")
    return json.loads(path.read_text())


def predict_with(info: dict[str, Any], model: Any, x: Any) -> tuple[Any, Any]:
    """(predictions, class probabilities or None) of a loaded model on features from `load_features`."""
    if info["task_type"] == TaskType.TABULAR_REGRESSION.value:
        return model.predict(x), None
    framework = info.get("framework") or "sklearn"
    return families.for_model(info["task_type"], framework, model).predict(model, x)


def load_model(model_path: str | Path) -> Any:
    """The fitted model saved by `train_model`: a scikit-learn pipeline, or (net, config) for torch."""
    info_path = Path(model_path).with_name("model.json")
    task = json.loads(info_path.read_text()).get("task_type") if info_path.is_file() else None
    return families.load_model(model_path, task or TaskType.TEXT_CLASSIFICATION)
