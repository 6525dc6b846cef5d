#!/usr/bin/env python
"""Float against int8 ONNX on the same held-out rows: size, batch-1 latency, agreement, accuracy,
and what the export decides with no limit stated (asked for) and under a size limit only int8 meets
("rejected": its labels agree on fewer than 99% of the rows).

    .venv/bin/python scripts/bench/int8.py [--hidden 64 256,256 512,512] [--torch-text]

Models: scikit-learn MLPClassifier (hidden layers as given, 60 iterations, seed 0) on scikit-learn's
digits (1,797 8x8 images, the first 1,400 to train, the other 397 held out), converted by the
project's own converter (skills.export.sklearn_onnx), quantized and measured by the export's own
code (skills.export.quantize.quantize_int8: 200 single-row calls per variant, one onnxruntime thread
each, warmed up, timed in alternating rounds) and judged by skills.export.variant.choose_int8.
With --torch-text, also the torch-text-bag net on the demo's fine_foods reviews, through export_onnx.
Writes scripts/bench/results/int8.json and prints its table (docs/benchmarks.md) with the load
average. About 2 minutes on 2 busy CPUs, --torch-text 1 more.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any


def mlp_onnx(hidden: tuple[int, ...], folder: Path) -> tuple[Path, list[dict[str, Any]], list[str]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    from trainer_agent.skills.export.sklearn_onnx import convert

    x, y = load_digits(return_X_y=True, as_frame=True)
    x.columns = [f"p{i}" for i in range(x.shape[1])]
    y = y.astype(str)
    model = MLPClassifier(hidden, max_iter=60, random_state=0)
    pipe = Pipeline(
        [("prep", ColumnTransformer([("num", "passthrough", list(x.columns))])), ("model", model)]
    )
    pipe.fit(x[:1400], y[:1400])
    info = {
        "task_type": "tabular_classification",
        "family": "mlp-classifier",
        "labels": sorted(set(y)),
        "inputs": [{"name": c, "column": c, "kind": "float"} for c in x.columns],
        "label_column": "digit",
    }
    path = folder / "model.onnx"
    path.write_bytes(convert(pipe, info).SerializeToString())
    return path, x[1400:].to_dict("records"), list(y[1400:])


def torch_text_quantization(folder: Path) -> dict[str, Any]:
    """The torch-text-bag net on the demo's fine_foods reviews (4,000 to train, 1,000 held out; 3
    epochs, 1 trial), exported with int8 asked for: the export's own measurement and decision."""
    import pandas as pd

    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.train import train_model
    from trainer_agent.skills.specs import DataReport, TaskSpec

    root = Path(__file__).resolve().parents[2] / "configs" / "demo" / "fine_foods"
    train = pd.read_csv(root / "train.csv")
    spec = TaskSpec(request="r", task_type="text_classification", label_column="score", text_column="review")
    data = DataReport(
        train_path=str(root / "train.csv"),
        test_path=str(root / "test.csv"),
        test_from="user",
        n_train=len(train),
        n_test=1000,
        columns=list(train.columns),
        label_column="score",
        text_column="review",
    )
    trained = train_model(
        spec, data, folder, families=["torch-text-bag"], max_trials=1, max_epochs=3, progress=lambda _: None
    )
    exported = export_onnx(spec, data, trained, folder, quantize=True, tensorrt=None)
    return {**exported.quantization, "status": "candidate", "path": None}


def row(name: str, q: dict[str, Any]) -> dict[str, Any]:
    """One model's measurement, and the decision with no limit stated and under a size limit halfway
    between the two files (only int8 meets it)."""
    from trainer_agent.skills.export.variant import choose_int8
    from trainer_agent.skills.specs import Requirement

    sizes = q["size_bytes"]
    cap = (sizes["float"] + sizes["int8"]) // 2
    asked = choose_int8({**q, "path": None}, [])
    capped = choose_int8({**q, "path": None}, [Requirement(name="size_bytes", op="<", target=cap)])
    return {
        "model": name,
        "size_bytes": sizes,
        "latency_ms": q["latency_ms_batch_1"],
        "agreement": q["parity"]["label_agreement"],
        "accuracy": {k: v["accuracy"] for k, v in q["metrics"].items()},
        "asked_no_limit": {"status": asked["status"], "reason": asked.get("reason")},
        "size_limit": {"target": cap, "status": capped["status"], "reason": capped.get("reason")},
    }


def main() -> None:
    import logging
    import sys
    import time

    from benchlib import write_result
    from render import int8_table

    from trainer_agent.skills.export.quantize import quantize_int8

    logging.disable(logging.WARNING)  # onnxruntime's quantizer advice on the root logger
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", nargs="+", default=["64", "256,256", "512,512"])
    parser.add_argument("--torch-text", action="store_true", help="also the torch-text-bag net (about 1 min)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    started, load_before = time.time(), [round(v, 2) for v in os.getloadavg()]
    rows = []
    for spec in args.hidden:
        hidden = tuple(int(h) for h in spec.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            path, held_out, truth = mlp_onnx(hidden, Path(tmp))
            rows.append(row(f"MLP {spec} (digits)", quantize_int8(path, held_out, truth=truth)))
    if args.torch_text:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(row("torch-text-bag (fine_foods)", torch_text_quantization(Path(tmp))))
    result = {
        "command": "scripts/bench/int8.py " + " ".join(sys.argv[1:]),
        "load_before": load_before,
        "rows": rows,
    }
    path = write_result("int8", result, started)
    print("\n".join(int8_table(json.loads(path.read_text(encoding="utf-8")))))


if __name__ == "__main__":
    main()
