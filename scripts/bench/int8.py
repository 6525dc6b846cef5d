#!/usr/bin/env python
"""Float against int8 ONNX on the same held-out rows: size, batch-1 latency, agreement, accuracy,
and what the export decides with no limit stated (asked for) and under a size limit only int8 meets
("rejected": its labels agree on fewer than 99% of the rows).

    .venv/bin/python scripts/bench/int8.py [--hidden 64 256,256 512,512]

Models: scikit-learn MLPClassifier (hidden layers as given, 60 iterations, seed 0) on scikit-learn's
digits (1,797 8x8 images, the first 1,400 to train, the other 397 held out), converted by the
project's own converter (skills.export.sklearn_onnx), quantized and measured by the export's own
code (skills.export.quantize.quantize_int8: 200 single-row calls per variant, one onnxruntime thread
each, warmed up, timed in alternating rounds) and judged by skills.export.variant.choose_int8.
Prints a Markdown table with the load average. About 30 s on 2 busy CPUs.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    from trainer_agent.skills.export.quantize import quantize_int8
    from trainer_agent.skills.export.variant import choose_int8
    from trainer_agent.skills.specs import Requirement

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", nargs="+", default=["64", "256,256", "512,512"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        "| MLP hidden | float bytes | int8 bytes | float p50 / p95 ms | int8 p50 / p95 ms | agreement "
        "| accuracy float / int8 | asked, no limit | size limit only int8 meets |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in args.hidden:
        hidden = tuple(int(h) for h in spec.split(","))
        with tempfile.TemporaryDirectory() as tmp:
            path, rows, truth = mlp_onnx(hidden, Path(tmp))
            q = quantize_int8(path, rows, truth=truth)  # the product's parity bar (99% agreement)
            sizes, lat, acc = q["size_bytes"], q["latency_ms_batch_1"], q["metrics"]
            cap = (sizes["float"] + sizes["int8"]) // 2
            asked = choose_int8({**q, "path": None}, [])
            capped = choose_int8({**q, "path": None}, [Requirement(name="size_bytes", op="<", target=cap)])
            print(
                f"| {spec} | {sizes['float']:,} | {sizes['int8']:,} "
                f"| {lat['float']['p50']:.3f} / {lat['float']['p95']:.3f} "
                f"| {lat['int8']['p50']:.3f} / {lat['int8']['p95']:.3f} "
                f"| {q['parity']['label_agreement']:.2%} "
                f"| {acc['float']['accuracy']:.4f} / {acc['int8']['accuracy']:.4f} "
                f"| {asked['status']} | {capped['status']} |"
            )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
