"""A trained model's files: models/model.joblib or model.pt and models/model.json (its inputs,
labels and settings); saving, loading and predicting with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import TaskType


def save_joblib(pipe: Any, path: Path) -> int:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipe, path, compress=3)
    return path.stat().st_size


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

        from trainer_agent.skills.model.image_cnn import predict_proba_net

        net, config = model
        proba = predict_proba_net(net, config, x)
        return np.asarray(config.labels, dtype=object)[proba.argmax(axis=1)], proba
    if info.get("framework") == "torch":
        from trainer_agent.skills.model import torch_text

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
            from trainer_agent.skills.model.image_cnn import load_image_net

            return load_image_net(model_path)
        from trainer_agent.skills.model.torch_text import load_text_net

        return load_text_net(model_path)
    import joblib

    return joblib.load(model_path)
