#!/usr/bin/env python
"""Reuse: a first run of the README's request against the same request again with `--reuse`.

    .venv/bin/python scripts/bench/reuse.py [--rows 1000]

The README's example (the first 1,000 rows of fine_foods/train.csv, its request, `--sandbox local
--llm offline --max-trials 1`), in a model library of its own (TRAINER_AGENT_HOME under
runs/bench/reuse/), run once, then again with `--reuse`: the wall time of each process (as `time`
measures it), the load average before and after each, each run's step durations (state.json) and
what the second run reused (report.json `reused`), and whether both runs ended with the same model,
ONNX file and held-out metrics.

Writes scripts/bench/results/reuse.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from benchlib import DATA, ROOT, WORK, cli, write_result

REQUEST = (
    "Tell whether a review is great (label column score). Accuracy at least 70%, under 1M parameters, "
    "p95 latency under 20 ms."
)
FLAGS = ("--sandbox", "local", "--llm", "offline", "--max-trials", "1", "--json")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(data: Path, out: Path, *extra: str) -> dict[str, Any]:
    before = os.getloadavg()
    code, wall, stdout, stderr = cli("run", REQUEST, "--data", str(data), "--out", str(out), *FLAGS, *extra)
    after = os.getloadavg()
    if code not in (0, 3):
        raise SystemExit(f"trainer-agent run exited {code}: {stderr[-2000:]}")
    report = json.loads(stdout)
    run_dir = Path(report["run_dir"])
    return {
        "exit_code": code,
        "wall_s": round(wall, 2),
        "load_before": [round(x, 2) for x in before],
        "load_after": [round(x, 2) for x in after],
        "durations": report["durations"],
        "run_id": report["run_id"],
        "metrics": report["metrics"],
        "onnx_sha256": _sha(run_dir / "exports" / "model.onnx"),
        "reused": {
            step: {k: v for k, v in r.items() if k != "files"} | {"files": len(r.get("files") or {})}
            for step, r in (report.get("reused") or {}).items()
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1000, help="rows of fine_foods/train.csv (the README: 1000)")
    args = ap.parse_args()
    started = time.time()
    work = WORK / "reuse"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = DATA / "fine_foods" / "train.csv"
    if not source.is_file():
        source = ROOT / "configs" / "demo" / "fine_foods" / "train.csv"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    data = work / "reviews.csv"
    data.write_text("".join(lines[: args.rows + 1]), encoding="utf-8")  # head -n 1001
    os.environ["TRAINER_AGENT_HOME"] = str(work / "home")
    first = _run(data, work / "runs")
    again = _run(data, work / "runs", "--reuse")
    payload = {
        "request": REQUEST,
        "rows": args.rows,
        "flags": list(FLAGS),
        "first": first,
        "reuse": again,
        "ratio": round(first["wall_s"] / again["wall_s"], 1),
        "same_model": first["onnx_sha256"] == again["onnx_sha256"] and first["metrics"] == again["metrics"],
    }
    write_result("reuse", payload, started)
    print(f"first {first['wall_s']} s, --reuse {again['wall_s']} s: {payload['ratio']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
