"""What a model reads: the features and labels of a prepared CSV, as training, export and the
registry load them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trainer_agent.skills.data.image_data import load_arrays
from trainer_agent.skills.data.label_fixes import corrected_labels
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import LabelIssue, TaskType


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


def with_corrections(y: Any, corrections_path: str | Path, train_path: str | Path) -> Any:
    """The person's labels `y` with the approved corrections of data/label_corrections.csv applied."""

    frame = read_csv(corrections_path)
    try:
        issues = [
            LabelIssue(row=int(r), given=str(g), suggested=str(s), confidence=float(c))
            for r, g, s, c in zip(
                frame["row"], frame["given"], frame["suggested"], frame["confidence"], strict=True
            )
        ]
        return corrected_labels(y, issues, str(train_path))
    except (KeyError, ValueError) as err:
        raise UserError(
            f"The label corrections in {corrections_path} do not fit {train_path}: {err}."
        ) from err


def person_rows(train_path: str | Path) -> Any:
    """Which rows of a prepared training file are the person's (boolean), not catalog rows listed
    in data/catalog_rows.csv beside it; None when no catalog row was added."""
    import numpy as np

    listing = Path(train_path).with_name("catalog_rows.csv")
    if not listing.is_file():
        return None
    n = len(read_csv(train_path))
    mask = np.ones(n, dtype=bool)
    mask[[int(r) for r in read_csv(listing)["row"] if 0 <= int(r) < n]] = False
    return mask


def load_features(task: TaskType, info: dict[str, Any], path: str | Path) -> tuple[Any, Any]:
    """(X, y) of a CSV in the form the fitted pipeline takes, from the model's `model.json` info."""
    frame = read_csv(path)
    if task == TaskType.TEXT_CLASSIFICATION:
        x = text_values(frame, info["text_column"], path)
    elif task == TaskType.IMAGE_CLASSIFICATION:
        spec = info["inputs"][0]
        x = load_arrays(path, spec["column"], int(spec["side"]), int(spec["channels"]))
    else:
        x = tabular_frame(frame, info["inputs"], path)
    return x, labels_of(task, frame, info["label_column"], path)
