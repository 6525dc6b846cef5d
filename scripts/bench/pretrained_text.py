#!/usr/bin/env python
"""Text with and without the pretrained encoder (the `pretrained` extra) on the demo reviews:
TF-IDF + logistic regression, all-MiniLM-L6-v2 frozen + logistic regression (exported, parity on
the test file), and the TF-IDF student distilled from it under "under 1M parameters".

    .venv/bin/python scripts/bench/pretrained_text.py [--out runs/bench/pretrained] [--rows N]

Calls `skills.model.train.train_model` directly (no agents, no sandbox) on configs/demo/fine_foods
(train.csv 4,000 rows, test.csv 1,000 rows; label `score`, text `review`), seed 0. Writes
OUT/results.json and prints one row per model.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import pandas as pd

    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.train import train_model
    from trainer_agent.skills.specs import DataReport, Requirement, TaskSpec

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "pretrained")
    parser.add_argument("--rows", type=int, default=0, help="use the first N training rows (0: all)")
    args = parser.parse_args()
    os.environ.setdefault("TRAINER_AGENT_HOME", str(args.out / "home"))  # no registry reuse across runs
    demo = ROOT / "configs" / "demo" / "fine_foods"
    train = pd.read_csv(demo / "train.csv")
    if args.rows:
        train = train.head(args.rows)
    (args.out / "data").mkdir(parents=True, exist_ok=True)
    train.to_csv(args.out / "data" / "train.csv", index=False)
    test = pd.read_csv(demo / "test.csv")
    data = DataReport(
        train_path=str(args.out / "data" / "train.csv"),
        test_path=str(demo / "test.csv"),
        test_from="user",
        n_train=len(train),
        n_test=len(test),
        columns=list(train.columns),
        label_column="score",
        text_column="review",
        label_counts=train["score"].astype(str).value_counts().to_dict(),
    )
    under_1m = [Requirement(name="params", op="<", target=1_000_000, text="under 1M parameters")]
    runs = {
        "tfidf-logistic-regression": ([], ["tfidf-logistic-regression"], False),
        "minilm-embed-linear": ([], ["minilm-embed-linear"], True),
        "distilled student (under 1M parameters)": (under_1m, None, False),
    }
    results = []
    for name, (requirements, families, export) in runs.items():
        spec = TaskSpec(
            request="Classify the reviews.",
            task_type="text_classification",
            label_column="score",
            text_column="review",
            requirements=requirements,
        )
        out = args.out / name.split(" ")[0]
        start = time.perf_counter()
        r = train_model(spec, data, out, families=families, seed=0, progress=lambda s: print("  " + s))
        row = {
            "model": name,
            "family": r.family,
            "accuracy": round(r.metrics["accuracy"], 4),
            "params": r.params,
            "train_s": round(time.perf_counter() - start, 1),
            "distillation": r.distillation or None,
        }
        if export:
            e = export_onnx(spec, data, r, out, quantize=False, tensorrt=None)
            row["parity"] = e.parity.model_dump(exclude={"onnx_metrics"})
            row["onnx_latency_ms"] = e.latency_ms
        results.append(row)
        print(json.dumps(row, default=str))
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
