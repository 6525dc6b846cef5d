"""A fitted scikit-learn pipeline's storage and predictions (every sklearn family and the soft-voting
ensemble): models/model.joblib, written compressed and read back with joblib. A helper, not a family.

    size = save_joblib(pipe, Path("runs/<id>/models/model.joblib"))
    pred, proba = predict_pipeline(load_joblib(path), x)      # proba None for a regressor
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_joblib(pipe: Any, path: str | Path) -> int:
    """Write `pipe` to `path`; its size in bytes."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipe, path, compress=3)
    return path.stat().st_size


def load_joblib(path: str | Path) -> Any:
    import joblib

    return joblib.load(path)


def predict_pipeline(pipe: Any, x: Any) -> tuple[Any, Any]:
    """(predictions, class probabilities or None for a regressor)."""
    return pipe.predict(x), pipe.predict_proba(x) if hasattr(pipe, "predict_proba") else None
