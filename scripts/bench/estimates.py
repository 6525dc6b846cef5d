#!/usr/bin/env python
"""Resource estimate accuracy: the capacity `skills.serve.sizing` estimates for one replica vs the capacity
an open-loop load test finds, and the predicted vs measured p95 at the planned rate.

    .venv/bin/python scripts/bench/estimates.py [--tasks text,tabular_cls] [--seconds 3]

For each model (from the end-to-end runs): start the generated service pinned to one CPU with one
inference thread, measure it exactly as the Server agent does (`skills.export.benchmark.service_capacity`,
closed loop at concurrency 1 and 4) and let `skills.serve.sizing.estimate` plan it; then offer open-loop
load (`skills.serve.loadtest.load_test`) at 50% to 150% of the estimated capacity. The load-tested
capacity is the highest offered rate up to which the replica kept up at every level (at least 95%
of it achieved, no errors); it is also given with the p95 within the tasks' latency bound (20 ms). The
predicted p95 at the usable rate (70% of the estimate) is compared with the measured one. Also
collects, from every end-to-end run, the Server agent's own check at its planned rate (e2e.json).
Writes scripts/bench/results/estimates.json.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchlib import WORK, make_datasets, read_result, write_result
from serving import examples_of, model_run

FRACTIONS = (0.5, 0.7, 0.85, 1.0, 1.1, 1.2, 1.35, 1.5)
P95_LIMIT_MS = 20.0


def bench_task(name: str, seconds: float) -> dict[str, Any]:
    from trainer_agent.skills.export.benchmark import service_capacity
    from trainer_agent.skills.serve.deploy import start_service, stop_service
    from trainer_agent.skills.serve.loadtest import load_test
    from trainer_agent.skills.serve.rollout import client_off, replica_cpu
    from trainer_agent.skills.serve.sizing import HEADROOM, estimate, predicted_p95

    run = model_run(name)
    examples = examples_of(run)
    cpu = replica_cpu()
    svc_dir = WORK / "estimates" / name
    svc_dir.mkdir(parents=True, exist_ok=True)
    dep = start_service(run / "exports" / "model.onnx", svc_dir, cpus=cpu, threads=1)
    levels = []
    try:
        with client_off(cpu):
            capacity = service_capacity(dep.url, examples, concurrency=(1, 4), seconds=1.5, pid=dep.pid)
            est = estimate(capacity, None, P95_LIMIT_MS, None)  # memory request from the peak RSS
            for f in FRACTIONS:
                rate = round(capacity["capacity_qps"] * f, 1)
                load = load_test(dep.url, examples, rate, seconds)
                kept = load["achieved_qps"] >= 0.95 * rate and load["errors"] == 0
                within = load["p95_ms"] is not None and load["p95_ms"] <= P95_LIMIT_MS
                levels.append(
                    {
                        "fraction": f,
                        "offered_qps": rate,
                        "achieved_qps": load["achieved_qps"],
                        "p50_ms": load["p50_ms"],
                        "p95_ms": load["p95_ms"],
                        "errors": load["errors"],
                        "kept_up": kept,
                        "within_p95": within,
                        "predicted_p95_ms": round(predicted_p95(capacity["levels"], rate), 3),
                    }
                )
                print(f"{name}: {levels[-1]}", flush=True)
    finally:
        stop_service(svc_dir)
    sustained = _highest_before_failure(levels, lambda lvl: lvl["kept_up"])
    tested = _highest_before_failure(levels, lambda lvl: lvl["kept_up"] and lvl["within_p95"])
    planned = min(levels, key=lambda lvl: abs(lvl["fraction"] - HEADROOM))
    cap = capacity["capacity_qps"]
    return {
        "run_dir": str(run),
        "estimated_capacity_qps": cap,
        "headroom": HEADROOM,
        "usable_qps_per_replica": round(cap * HEADROOM, 1),
        "capacity_levels": capacity["levels"],
        "memory": {"peak_rss_mb": capacity.get("memory_mb"), "memory_request_mb": est["memory_request_mb"]},
        "load_levels": levels,
        # The highest offered rate kept up with (>= 95% achieved, no errors), and the highest also
        # within the p95 limit: the capacity the load test finds, with and without the latency bound.
        "load_tested_capacity_qps": sustained,
        "estimate_over_tested": round(cap / sustained, 3) if sustained else None,
        "load_tested_within_p95_qps": tested,
        "usable_over_tested_within_p95": round(cap * HEADROOM / tested, 3) if tested else None,
        "at_planned_rate": {
            "offered_qps": planned["offered_qps"],
            "predicted_p95_ms": planned["predicted_p95_ms"],
            "measured_p95_ms": planned["p95_ms"],
            "kept_up": planned["kept_up"],
        },
    }


def _highest_before_failure(levels: list[dict[str, Any]], ok: Any) -> float | None:
    """The highest offered rate with every rate up to it passing (a later lucky pass does not count)."""
    best = None
    for lvl in sorted(levels, key=lambda lvl: lvl["offered_qps"]):
        if not ok(lvl):
            break
        best = lvl["offered_qps"]
    return best


def from_e2e() -> list[dict[str, Any]]:
    """The Server agent's own check in each end-to-end run: load test at the planned rate."""
    rows = []
    for row in (read_result("e2e") or {}).get("runs", []):
        err = row.get("estimate_error")
        if err:
            rows.append({"task": row["task"], "seed": row["seed"], **err})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="text,tabular_cls")
    ap.add_argument("--seconds", type=float, default=3.0, help="per load level")
    args = ap.parse_args()
    started = time.time()
    make_datasets()
    out = {name: bench_task(name, args.seconds) for name in args.tasks.split(",")}
    write_result(
        "estimates",
        {"tasks": out, "fractions": list(FRACTIONS), "p95_limit_ms": P95_LIMIT_MS, "e2e_checks": from_e2e()},
        started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
