"""The pixels logistic regression image family (`pixels-logistic-regression`): uint8 pixels
flattened to [0, 1] and a scikit-learn logistic regression, as one pipeline.

    pipe = lr_pipeline(c=1.0, seed=0).fit(x, y)      # x: uint8 [n, side, side, channels]
    lr_params(side=8, channels=1, classes=10)        # -> 650
"""

from __future__ import annotations

from typing import Any


def lr_params(side: int, channels: int, classes: int) -> int:
    rows = 1 if classes == 2 else classes
    return side * side * channels * rows + rows


def flatten_pixels(x: Any) -> Any:
    """uint8 [n, h, w, c] -> float32 [n, h*w*c] in [0, 1] (module level so the pipeline pickles)."""
    import numpy as np

    arr = np.asarray(x, dtype=np.float32)
    return arr.reshape(len(arr), -1) / np.float32(255.0)


def lr_pipeline(c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline(
        [
            ("pixels", FunctionTransformer(flatten_pixels)),
            ("clf", LogisticRegression(C=c, max_iter=500, random_state=seed)),
        ]
    )
