"""The ONNX graph of a fitted scikit-learn pipeline (text, tabular, soft-voting ensembles), by skl2onnx,
with LightGBM's converter registered and trainer-agent's metadata (`skills.export.onnx_tail`).
Input convention: see `skills.export.export`.

    onx = convert(pipe, info)      # an onnx ModelProto
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from trainer_agent.skills.export.onnx_tail import stamp_metadata
from trainer_agent.skills.model.text_net import TOKEN_PATTERN

# Opset 17 / ai.onnx.ml 3 run on every onnxruntime since 1.13 and keep tree ensembles in the
# attribute form that `onnx_param_count` reads.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def _initial_types(info: dict[str, Any]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [
        (i["name"], FloatTensorType([None, 1]) if i["kind"] == "float" else StringTensorType([None, 1]))
        for i in info["inputs"]
    ]


def _options(pipe: Any) -> dict[int, dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    options: dict[int, dict[str, Any]] = {}
    # A soft-voting ensemble (skills.model.ensemble) holds fitted pipelines: their vectorizers need the
    # same options, and the ensemble itself gives plain probabilities (no ZipMap).
    steps = [s for _, s in pipe.steps] if hasattr(pipe, "steps") else [pipe]
    for step in steps:
        if isinstance(step, TfidfVectorizer):
            # locale "C": onnxruntime here rejects the default (empty) StringNormalizer locale.
            options[id(step)] = {"locale": "C", "tokenexp": TOKEN_PATTERN}
        elif hasattr(step, "predict_proba"):
            options[id(step)] = {"zipmap": False}
        if isinstance(getattr(step, "estimators_", None), list):
            for member in step.estimators_:
                if hasattr(member, "steps"):
                    options |= {k: v for k, v in _options(member).items() if k not in options}
    return options


@functools.cache
def register_lightgbm() -> None:
    """Teach skl2onnx LightGBM's estimators, with onnxmltools' converter (the maintained one), so
    a pipeline or a voting ensemble holding them converts like any other. Once a process."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
        options={"split": None},
    )


def convert(pipe: Any, info: dict[str, Any], example: Any = None) -> Any:
    """The ONNX ModelProto of a fitted pipeline, with trainer-agent's metadata."""
    from skl2onnx import convert_sklearn

    if "lightgbm" in sys.modules:  # a fitted LightGBM model exists only where lightgbm was imported
        register_lightgbm()
    try:
        onx = convert_sklearn(
            pipe,
            name=info["family"],
            initial_types=_initial_types(info),
            options=_options(pipe),
            target_opset=TARGET_OPSET,
        )
    except Exception as err:  # a converter gap is a bug to report, but say which model failed
        raise RuntimeError(f"skl2onnx could not convert the {info['family']} pipeline: {err}") from err
    return stamp_metadata(onx, info, info.get("labels") or [], example)
