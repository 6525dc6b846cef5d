"""Example inputs for a model's service, taken from the held-out data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trainer_agent.skills.data.image_data import IMAGE_COLUMN, encode_png, open_image
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType


def example_inputs(spec: TaskSpec, data: DataReport, n: int = 8) -> list[Any]:
    """Up to `n` raw inputs from the test set, in the shape `/predict` takes (text, records or images)."""
    import pandas as pd

    df = pd.read_csv(data.test_path).head(n)
    if spec.task_type == TaskType.IMAGE_CLASSIFICATION:  # base64 PNGs (at most 64 px), as clients send
        image_column = (data.feature_columns or [IMAGE_COLUMN])[0]
        base = Path(data.test_path).parent
        return [encode_png(open_image(base / str(p)), max_side=64) for p in df[image_column]]
    if spec.task_type == TaskType.TEXT_CLASSIFICATION:
        column = data.text_column or spec.text_column
        return [str(v) for v in df[column].tolist()]
    columns = data.feature_columns or spec.feature_columns
    rows: list[dict[str, Any]] = []
    for record in df[columns].to_dict(orient="records"):
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()})
    return rows


SYNTHETIC_TEXT = "A text to classify."


def synthetic_example(task_type: str, inputs: list[dict[str, Any]]) -> Any:
    """One input of the right shape and types, made up rather than taken from the data (for the
    API docs, the OpenAPI example and error hints): a text, or a record with 0.0 for each number
    column and "text" for each text column; None for images (the service draws a blank one)."""
    if task_type == TaskType.IMAGE_CLASSIFICATION:
        return None
    if task_type == TaskType.TEXT_CLASSIFICATION:
        return SYNTHETIC_TEXT
    return {spec["column"]: 0.0 if spec.get("kind") == "float" else "text" for spec in inputs}
