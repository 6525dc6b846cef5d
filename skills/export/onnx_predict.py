"""Run an exported model (exports/model.onnx) with onnxruntime on plain Python inputs.

The model carries its own description in the ONNX metadata key "trainer_agent" (see
`skills.export.export`), so the predictor needs nothing but the file:

    p = OnnxPredictor("runs/<id>/exports/model.onnx")
    p.predict(["Great coffee, will buy again"])
    # [{"label": "great", "probabilities": {"great": 0.93, "other": 0.07}}]
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import reprlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError

META_KEY = "trainer_agent"
FLOAT32_MAX = 3.4028234663852886e38  # numbers go into the model as float32

_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict = 2, 60, 60, 4, 4


def show(value: Any) -> str:
    """A short repr of a value from a request, for an error message (bounded length and depth)."""
    return _SHOW.repr(value)


def _unicode(text: str, where: str) -> str:
    """`text` if it encodes as UTF-8; a lone surrogate ("\\ud800" in JSON) is a ValueError."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{where} is not valid Unicode text: character {err.start} is a lone surrogate "
            f"(U+{ord(text[err.start]):04X})."
        ) from None
    return text


def _number(value: Any, where: str) -> float:
    """`value` as a float the model can take: finite and within float32's range."""
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        number = math.inf
    if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise ValueError(f"{where} must be a finite number within ±3.4e38, got {show(value)}.")
    return number


def model_version(path: str | Path) -> str:
    """The model's version: the first 12 hex digits of the file's SHA-256 (content, not mtime)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


class OnnxPredictor:
    """An onnxruntime session plus the input/label conventions of trainer-agent's ONNX models."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        """`threads`: onnxruntime intra-op threads (a service replica with one CPU uses 1);
        None lets onnxruntime use every core."""
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"ONNX model {self.path} does not exist.")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        raw = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if not raw:
            raise UserError(
                f"{self.path} has no '{META_KEY}' metadata; "
                "export it with trainer_agent.skills.export.export."
            )
        self.meta: dict[str, Any] = json.loads(raw)
        self.task_type: str = self.meta["task_type"]
        self.labels: list[str] = list(self.meta.get("labels") or [])
        self.inputs: list[dict[str, str]] = list(self.meta["inputs"])
        self.is_text = self.task_type == "text_classification"
        self.is_image = self.task_type == "image_classification"
        self.is_classifier = not self.task_type.endswith("regression")
        self._by_column = {i["column"]: i for i in self.inputs}
        self.version = model_version(self.path)

    @property
    def info(self) -> dict[str, Any]:
        return {
            "task_type": self.task_type,
            "family": self.meta.get("family"),
            "labels": self.labels,
            "inputs": self.inputs,
            "text_column": self.meta.get("text_column"),
            "label_column": self.meta.get("label_column"),
            "file": self.path.name,
            "variant": self.meta.get(
                "variant", "float"
            ),  # "int8": the quantized copy (skills.export.variant)
            "size_bytes": self.path.stat().st_size,
            "version": self.version,
        }

    # ------------------------------------------------------------ inputs

    def _text_of(self, i: int, row: Any) -> str:
        if isinstance(row, str):
            return _unicode(row, f"Input {i}")
        column = self.meta.get("text_column") or "text"
        if isinstance(row, dict):
            unknown = [k for k in row if k not in (column, "text")]
            if unknown:
                raise ValueError(
                    f"Input {i} has unknown field(s) {show(unknown)}; this model reads only '{column}'."
                )
            value = row.get(column, row.get("text"))
            if isinstance(value, str):
                return _unicode(value, f"Input {i}, field '{column}',")
            raise ValueError(f"Input {i} needs a string in field '{column}', got {type(value).__name__}.")
        raise ValueError(
            f"Input {i} must be a string (or an object with field '{column}'), got {type(row).__name__}."
        )

    def _pixels_of(self, i: int, row: Any) -> Any:
        """uint8 [side, side, channels] of one image input: base64 text, {"image": base64} or bytes."""
        from trainer_agent.skills.data.image_data import open_image, pixels_from_base64, to_pixels

        spec = self.inputs[0]
        side, channels = int(spec["side"]), int(spec["channels"])
        if isinstance(row, dict):
            unknown = [k for k in row if k not in (spec["column"], "image")]
            if unknown:
                raise ValueError(
                    f"Input {i} has unknown field(s) {show(unknown)}; this model reads only 'image'."
                )
            row = row.get("image", row.get(spec["column"]))
        try:
            if isinstance(row, str):
                return pixels_from_base64(row, side, channels)
            if isinstance(row, (bytes, bytearray)):
                return to_pixels(open_image(bytes(row)), side, channels)
        except ValueError as err:
            raise ValueError(
                f"Input {i} {err}; send a PNG, JPEG, BMP, GIF or WebP file as base64 text."
            ) from None
        raise ValueError(
            f"Input {i} must be an image as base64 text (or an object with field 'image'), "
            f"got {type(row).__name__}."
        )

    def feeds(self, rows: Sequence[Any]) -> dict[str, Any]:
        """The onnxruntime input dict for `rows`; raises ValueError naming the row and column at fault."""
        import numpy as np

        if isinstance(rows, (str, dict)) or not isinstance(rows, Sequence):
            raise ValueError("Inputs must be a list of rows.")
        if self.is_image:
            return {self.inputs[0]["name"]: np.stack([self._pixels_of(i, r) for i, r in enumerate(rows)])}
        if self.is_text:
            texts = [self._text_of(i, r) for i, r in enumerate(rows)]
            return {self.inputs[0]["name"]: np.asarray(texts, dtype=object).reshape(-1, 1)}
        columns: dict[str, list[Any]] = {spec["name"]: [] for spec in self.inputs}
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ValueError(
                    f"Input {i} must be an object keyed by column name "
                    f"({', '.join(self._by_column)}), got {type(row).__name__}."
                )
            unknown = [k for k in row if k not in self._by_column]
            if unknown:
                raise ValueError(
                    f"Input {i} has unknown column(s) {show(unknown)}; "
                    f"expected some of {list(self._by_column)}."
                )
            for spec in self.inputs:
                value = row.get(spec["column"])
                missing = value is None or (isinstance(value, numbers.Real) and math.isnan(value))
                where = f"Input {i}, column '{spec['column']}'"
                if spec["kind"] == "float":
                    if missing:
                        value = float("nan")
                    elif isinstance(value, numbers.Real):
                        value = _number(value, where)
                    else:
                        raise ValueError(f"{where} must be a number, got {show(value)}.")
                else:
                    if missing:
                        value = ""
                    elif not isinstance(value, str):
                        raise ValueError(f"{where} must be a string, got {show(value)}.")
                    else:
                        value = _unicode(value, where)
                columns[spec["name"]].append(value)
        return {
            spec["name"]: np.asarray(
                columns[spec["name"]], dtype=np.float32 if spec["kind"] == "float" else object
            ).reshape(-1, 1)
            for spec in self.inputs
        }

    # ------------------------------------------------------------ outputs

    def run(self, feeds: dict[str, Any]) -> tuple[Any, Any]:
        """(labels, probabilities) for classifiers, (values, None) for regressors, as numpy arrays."""
        import numpy as np

        out = self.session.run(None, feeds)
        if self.is_classifier:
            return np.asarray(out[0]).astype(str).ravel(), np.asarray(out[1], dtype=np.float64)
        return np.asarray(out[0], dtype=np.float64).ravel(), None

    def predict(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """One prediction per row; ValueError (naming the row) for bad input, and for an input so far
        outside the training data that the model's output is not a finite number."""
        import numpy as np

        if len(rows) == 0:
            return []
        labels, proba = self.run(self.feeds(rows))
        outputs = labels if proba is None else proba
        finite = np.isfinite(outputs).reshape(len(rows), -1).all(axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"Input {i} is too far outside the data the model was trained on: its output is not a "
                "finite number."
            )
        if not self.is_classifier:
            return [{"value": float(v)} for v in labels]
        return [
            {"label": str(lab), "probabilities": {c: float(p) for c, p in zip(self.labels, row, strict=True)}}
            for lab, row in zip(labels, proba, strict=True)
        ]
