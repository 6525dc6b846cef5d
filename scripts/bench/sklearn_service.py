#!/usr/bin/env python
"""The generated service with scikit-learn in place of onnxruntime: the peer of the serving benchmark.

    .venv/bin/python scripts/bench/sklearn_service.py RUN_DIR --port 8001 [--cpus 1]

It is `skills.serve.service_app.create_app` itself (same routes, middleware, metrics, JSON logs, request
validation and response shape); only the predictor's inference step runs the run's fitted
scikit-learn pipeline (models/model.joblib) in-process instead of the ONNX session. Inputs go through
the same `feeds()` conversion, so the difference measured is the inference engine alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trainer_agent.skills.export.onnx_predict import OnnxPredictor  # noqa: E402


class SklearnPredictor(OnnxPredictor):
    """OnnxPredictor's inputs, labels and metadata; the fitted scikit-learn model's predictions."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        from trainer_agent.skills.model.model_files import load_model, read_model_info

        super().__init__(path, threads=1)  # the ONNX file describes the inputs; it is not run
        model_path = Path(path).resolve().parents[1] / "models" / "model.joblib"
        self.model = load_model(model_path)
        self.model_info = read_model_info(model_path)
        classes = [str(c) for c in getattr(self.model, "classes_", [])]
        self._order = [classes.index(lab) for lab in self.labels] if classes else None

    def run(self, feeds: dict[str, Any]) -> tuple[Any, Any]:
        import numpy as np
        import pandas as pd

        from trainer_agent.skills.model.model_files import predict_with

        if self.is_text:
            x = feeds[self.inputs[0]["name"]].ravel()
        else:
            x = pd.DataFrame(
                {
                    spec["name"]: feeds[spec["name"]]
                    .ravel()
                    .astype("float64" if spec["kind"] == "float" else object)
                    for spec in self.inputs
                }
            )
        labels, proba = predict_with(self.model_info, self.model, x)
        if not self.is_classifier:
            return np.asarray(labels, dtype=np.float64).ravel(), None
        proba = np.asarray(proba, dtype=np.float64)
        if self._order is not None:
            proba = proba[:, self._order]
        return np.asarray(labels).astype(str).ravel(), proba


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--cpus", help="pin to these CPUs, e.g. '1' (one replica's share)")
    args = ap.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    from trainer_agent.skills.serve import service_app

    service_app.OnnxPredictor = SklearnPredictor  # type: ignore[misc]  # the only change
    service_app.json_logging()
    app = service_app.create_app(str(args.run_dir / "exports" / "model.onnx"), threads=1)
    service_app.serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
