"""Measure a model and its service: latency percentiles at batch 1 and at a batch size, in process,
and the throughput of one running service under concurrency, with its peak memory.

    bench = benchmark_model("runs/<id>/exports/model.onnx", rows, batch_size=32)
    cap = service_capacity(url, examples, concurrency=(1, 4), seconds=2.0, pid=pid)

The in-process numbers are onnxruntime alone (input building included); the service numbers are
end to end over HTTP on 127.0.0.1 (JSON, FastAPI, the client's own cost on the same machine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.export.timing import batches_of, percentiles, time_calls
from trainer_agent.skills.serve.loadtest import closed_loop


def benchmark_model(
    onnx_path: str | Path,
    rows: Sequence[Any],
    batch_size: int = 32,
    calls: int = 200,
    threads: int | None = 1,
) -> dict[str, Any]:
    """In-process onnxruntime latency at batch 1 and at `batch_size`, and rows/s at `batch_size`.

    `threads`=1 measures what one replica with one CPU gets (the sizing assumes it)."""

    if not rows:
        raise UserError("No rows to benchmark the model on; the test set is empty.")
    predictor = OnnxPredictor(onnx_path, threads=threads)

    def run(batch: list[Any]) -> Any:
        return predictor.run(predictor.feeds(batch))

    single = time_calls(run, batches_of(rows, 1), calls)
    batched = time_calls(run, batches_of(rows, batch_size), max(20, calls // 4))
    batch_lat = percentiles(batched)
    return {
        "runtime": "onnxruntime CPU",
        "threads": threads,
        "batch_1_ms": percentiles(single),
        "batch_size": batch_size,
        "batch_ms": batch_lat,
        "rows_per_s_batched": round(batch_size * 1000 / batch_lat["p50"], 1) if batch_lat else 0.0,
        "rows_per_s_single": round(1000 / percentiles(single)["p50"], 1),
    }


def compare_runtimes(
    runtimes: dict[str, Callable[[Any], Any]], batches: Sequence[Any], calls: int = 100
) -> dict[str, Any]:
    """Latency of several implementations of the same model on the same batches (e.g. PyTorch
    eager vs ONNX); `speedup` is each one's p50 relative to the first one named."""
    out: dict[str, Any] = {name: percentiles(time_calls(fn, batches, calls)) for name, fn in runtimes.items()}
    base = next(iter(out.values()))["p50"]
    out["speedup"] = {name: round(base / out[name]["p50"], 2) for name in runtimes}
    return out


def service_capacity(
    url: str,
    examples: list[Any],
    concurrency: Sequence[int] = (1, 4),
    seconds: float = 2.0,
    pid: int | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Closed-loop throughput of one running service at each concurrency level (each client sends
    one input per request and waits for the answer; `skills.serve.loadtest.closed_loop`). `capacity_qps`
    is the best level's QPS; the levels' (qps, p95) points let `skills.serve.sizing` predict the latency
    at a planned load. `memory_mb`: the service's peak RSS (of `pid`, else from its /metrics)."""
    from trainer_agent.skills.serve.deploy import service_peak_memory_mb

    levels = []
    for c in concurrency:
        m = closed_loop(url, examples, concurrency=c, seconds=seconds, api_key=api_key)
        levels.append(
            {
                "concurrency": float(c),
                "qps": m["achieved_qps"],
                "p50_ms": m["p50_ms"] if m["p50_ms"] is not None else float("nan"),
                "p95_ms": m["p95_ms"] if m["p95_ms"] is not None else float("nan"),
                "errors": float(m["errors"]),
            }
        )
    best = max(levels, key=lambda lvl: lvl["qps"])
    return {
        "levels": levels,
        "capacity_qps": best["qps"],
        "p95_ms_at_capacity": best["p95_ms"],
        "p50_ms_single": levels[0]["p50_ms"],
        "p95_ms_single": levels[0]["p95_ms"],
        "memory_mb": service_peak_memory_mb(url, pid),
        "errors": sum(lvl["errors"] for lvl in levels),
    }
