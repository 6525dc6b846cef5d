"""Timing calls: latency percentiles, timed calls after a warm-up, rows in batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

WARMUP_CALLS = 10


def percentiles(times_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 of `times_ms`, rounded to 4 decimals; {} for no samples."""
    import numpy as np

    if len(times_ms) == 0:
        return {}
    p50, p95, p99 = np.percentile(np.asarray(times_ms, dtype=float), [50, 95, 99])
    return {"p50": round(float(p50), 4), "p95": round(float(p95), 4), "p99": round(float(p99), 4)}


def time_calls(fn: Callable[[Any], Any], batches: Sequence[Any], calls: int) -> list[float]:
    """Milliseconds of `calls` calls of `fn` on `batches` in turn, after a short warm-up."""
    if not batches:
        return []
    for batch in batches[:WARMUP_CALLS]:
        fn(batch)
    times = []
    for k in range(calls):
        batch = batches[k % len(batches)]
        start = time.perf_counter()
        fn(batch)
        times.append((time.perf_counter() - start) * 1000)
    return times


def batches_of(rows: Sequence[Any], size: int) -> list[list[Any]]:
    """`rows` cut into batches of `size`, cycling over the rows so every batch is full."""
    if not rows:
        return []
    n = max(1, len(rows) // size)
    return [[rows[(b * size + i) % len(rows)] for i in range(size)] for b in range(n)]


def compare_calls(
    fns: dict[str, Callable[[Any], Any]], batches: Sequence[Any], calls: int, rounds: int = 5
) -> dict[str, dict[str, float]]:
    """p50/p95/p99 ms per name of `fns` on the same `batches`, each warmed up, then timed in
    `rounds` alternating rounds of `calls // rounds` calls: a load that comes and goes on a shared
    CPU falls on every contender alike instead of on whichever ran second."""
    if not batches:
        return {name: {} for name in fns}
    for fn in fns.values():
        for batch in batches[:WARMUP_CALLS]:
            fn(batch)
    times: dict[str, list[float]] = {name: [] for name in fns}
    per_round = max(1, calls // rounds)
    for r in range(rounds):
        for name, fn in fns.items():
            for k in range(per_round):
                batch = batches[(r * per_round + k) % len(batches)]
                start = time.perf_counter()
                fn(batch)
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: percentiles(t) for name, t in times.items()}
