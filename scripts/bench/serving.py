#!/usr/bin/env python
"""Serving: requests/s and p50/p95 of ONE replica (one CPU) for the exported ONNX model behind the
generated service, vs the same model in scikit-learn in-process behind the same FastAPI app, and the
ratio of each to its compute-bound limit (the model's own time per inference, no HTTP).

    .venv/bin/python scripts/bench/serving.py [--tasks text,tabular_cls] [--seconds 3]

Models come from the end-to-end runs (results/e2e.json; one run is made when there is none). Each
service is pinned to the last CPU with one inference thread, as `trainer-agent run` measures a
replica; the load generator (closed loop, one input per request, `skills.serve.loadtest`) runs on the
other CPUs. Writes scripts/bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchlib import BENCH, PYTHON, ROOT, TASKS, WORK, make_datasets, read_result, write_result

LEVELS = (1, 4)


def model_run(name: str) -> Path:
    """A finished run directory of task `name` with an exported model."""
    for row in (read_result("e2e") or {}).get("runs", []):
        if row.get("task") == name and row.get("run_dir"):
            run = Path(row["run_dir"])
            if (run / "exports" / "model.onnx").is_file() and (run / "models" / "model.joblib").is_file():
                return run
    from e2e import one_run

    row = one_run(name, 0, "local", WORK / "serving" / "runs")
    return Path(row["run_dir"])


def examples_of(run: Path, n: int = 64) -> list[Any]:
    from trainer_agent.skills.serve.examples import example_inputs
    from trainer_agent.skills.specs import DataReport, TaskSpec

    state = json.loads((run / "state.json").read_text(encoding="utf-8"))
    spec = TaskSpec.model_validate(state["steps"]["parse"]["result"])
    data = DataReport.model_validate(state["steps"]["data"]["result"])
    return example_inputs(spec, data, n=n)


@contextlib.contextmanager
def pinned(cpu: str | None) -> Iterator[None]:
    """Run this process on `cpu` only (as the replica would), for the in-process timings."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(cpu)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def per_inference_ms(fn: Any, examples: list[Any], seconds: float = 2.0) -> dict[str, float]:
    """Time fn([x]) one input at a time, cycling through the examples, for about `seconds`."""
    for x in examples[:5]:
        fn([x])
    times = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end or len(times) < 50:
        x = examples[i % len(examples)]
        t0 = time.perf_counter()
        fn([x])
        times.append((time.perf_counter() - t0) * 1000)
        i += 1
    times.sort()
    mean = statistics.fmean(times)
    return {
        "n": len(times),
        "mean_ms": round(mean, 4),
        "p50_ms": round(times[len(times) // 2], 4),
        "p95_ms": round(times[int(len(times) * 0.95)], 4),
        # From the median: on a shared machine a few calls stall behind other work, and the mean
        # would charge those stalls to the model.
        "limit_qps": round(1000 / times[len(times) // 2], 1),
    }


def compute_limits(run: Path, examples: list[Any], cpu: str | None) -> dict[str, Any]:
    """The model alone, in this process, pinned to the replica's CPU: the compute-bound limit."""
    import sys

    sys.path.insert(0, str(BENCH))
    from sklearn_service import SklearnPredictor

    from trainer_agent.skills.export.onnx_predict import OnnxPredictor

    onnx = OnnxPredictor(run / "exports" / "model.onnx", threads=1)
    sk = SklearnPredictor(run / "exports" / "model.onnx")
    with pinned(cpu):
        return {
            "onnx_session_run": per_inference_ms(lambda rows: onnx.run(onnx.feeds(rows)), examples),
            "onnx_predict": per_inference_ms(onnx.predict, examples),
            "sklearn_model": per_inference_ms(lambda rows: sk.run(sk.feeds(rows)), examples),
            "sklearn_predict": per_inference_ms(sk.predict, examples),
        }


def measure(url: str, examples: list[Any], cpu: str | None, seconds: float) -> dict[str, Any]:
    from trainer_agent.skills.serve.loadtest import closed_loop
    from trainer_agent.skills.serve.rollout import client_off

    levels = []
    with client_off(cpu):
        closed_loop(url, examples, concurrency=1, seconds=0.5)  # warm-up
        for c in LEVELS:
            m = closed_loop(url, examples, concurrency=c, seconds=seconds)
            levels.append(
                {"concurrency": c, **{k: m[k] for k in ("achieved_qps", "p50_ms", "p95_ms", "errors")}}
            )
    best = max(levels, key=lambda lvl: lvl["achieved_qps"])
    return {
        "levels": levels,
        "qps": best["achieved_qps"],
        "p50_ms": levels[0]["p50_ms"],
        "p95_ms": best["p95_ms"],
    }


def sklearn_service(run: Path, cpu: str | None) -> tuple[subprocess.Popen, str]:
    import httpx

    from trainer_agent.skills.serve.deploy import free_port

    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    log = open(WORK / "serving" / f"sklearn-{run.name}.log", "wb")  # noqa: SIM115 - the child writes it
    cmd = [str(PYTHON), str(BENCH / "sklearn_service.py"), str(run), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, *(["--cpus", cpu] if cpu else [])], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the scikit-learn service exited with {proc.returncode}; see {log.name}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                return proc, url
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the scikit-learn service did not become ready within 60 s")


def bench_task(name: str, seconds: float) -> dict[str, Any]:
    from trainer_agent.skills.serve.deploy import start_service, stop_service
    from trainer_agent.skills.serve.rollout import replica_cpu

    run = model_run(name)
    examples = examples_of(run)
    cpu = replica_cpu()
    limits = compute_limits(run, examples, cpu)
    svc_dir = WORK / "serving" / name
    svc_dir.mkdir(parents=True, exist_ok=True)
    dep = start_service(run / "exports" / "model.onnx", svc_dir, cpus=cpu, threads=1)
    try:
        onnx = measure(dep.url, examples, cpu, seconds)
    finally:
        stop_service(svc_dir)
    proc, url = sklearn_service(run, cpu)
    try:
        sk = measure(url, examples, cpu, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    model = json.loads((run / "models" / "model.json").read_text(encoding="utf-8"))
    onnx["ratio_to_limit"] = round(onnx["qps"] / limits["onnx_predict"]["limit_qps"], 3)
    sk["ratio_to_limit"] = round(sk["qps"] / limits["sklearn_predict"]["limit_qps"], 3)
    return {
        "run_dir": str(run),
        "family": model.get("family"),
        "replica_cpu": cpu,
        "examples": len(examples),
        "limits": limits,
        "onnx_service": onnx,
        "sklearn_service": sk,
        "qps_ratio_onnx_vs_sklearn": round(onnx["qps"] / sk["qps"], 3) if sk["qps"] else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="text,tabular_cls")
    ap.add_argument("--seconds", type=float, default=3.0, help="per concurrency level")
    args = ap.parse_args()
    started = time.time()
    make_datasets()
    (WORK / "serving").mkdir(parents=True, exist_ok=True)
    out = {}
    for name in args.tasks.split(","):
        out[name] = bench_task(name, args.seconds)
        o, s = out[name]["onnx_service"], out[name]["sklearn_service"]
        print(
            f"{name}: ONNX service {o['qps']} QPS (p95 {o['p95_ms']} ms), scikit-learn {s['qps']} QPS",
            flush=True,
        )
    write_result(
        "serving",
        {
            "tasks": out,
            "levels": list(LEVELS),
            "seconds_per_level": args.seconds,
            "task_kinds": {k: TASKS[k].kind for k in out},
        },
        started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
