#!/usr/bin/env python
"""Benchmark the sandbox executors: container start time and per-job overhead, Docker vs local.

    .venv/bin/python scripts/bench_sandbox.py [--repeat 20]

Prints a table; it is a benchmark, not a test (numbers depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer_agent.sandbox.config import SandboxConfig  # noqa: E402
from trainer_agent.sandbox.local import LocalSandbox  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        out.append(time.perf_counter() - t0)
        if not res.ok:
            raise SystemExit(f"benchmark job failed: {res.reason}\n{res.output[-2000:]}")
    return out


def fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:7.1f} ms   min {min(xs) * 1000:7.1f} ms   (n={len(xs)})"


def bench(sb, repeat: int) -> dict[str, list[float]]:
    (sb.workspace / "spec.json").write_text(json.dumps({"numbers": [1, 2, 3]}))
    return {
        "true": timed(lambda: sb.run(["true"], timeout=60), repeat),
        "python -c pass": timed(lambda: sb.run(["python", "-c", "pass"], timeout=60), repeat),
        "run_job (selftest)": timed(
            lambda: sb.run_job("trainer_agent.sandbox.jobs_selftest", "spec.json", "result.json", timeout=60),
            repeat,
        ),
        "import torch": timed(
            lambda: sb.run(["python", "-c", "import torch"], timeout=120), max(3, repeat // 5)
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    cfg = SandboxConfig()
    rows: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as ws, LocalSandbox(ws, cfg) as sb:
        sb.run(["python", "-c", "import torch"], timeout=120)  # warm the page cache, as for docker
        rows["local"] = bench(sb, args.repeat)
    try:
        from trainer_agent.sandbox.docker_sandbox import DockerSandbox
        from trainer_agent.sandbox.select import docker_client

        client, why = docker_client()
        if client is None:
            raise RuntimeError(why)
        starts = []
        for _ in range(5):
            with tempfile.TemporaryDirectory() as ws, DockerSandbox(ws, cfg, client=client) as sb:
                sb.run(["true"], timeout=60)
                starts.append(sb.start_seconds or 0.0)
        with tempfile.TemporaryDirectory() as ws, DockerSandbox(ws, cfg, client=client) as sb:
            sb.run(["python", "-c", "import torch"], timeout=120)
            rows["docker"] = bench(sb, args.repeat)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as ws, DockerSandbox(ws, cfg, client=client) as sb:
            sb.run(["true"], timeout=60)
            t_open = time.perf_counter() - t0
            t1 = time.perf_counter()
        t_close = time.perf_counter() - t1
        img = client.images.get(cfg.image)
        print(f"image {cfg.image}: {img.attrs['Size'] / 2**30:.2f} GiB")
        print(f"container start (create+start): {fmt(starts)}")
        print(f"first job incl. start: {t_open * 1000:.0f} ms; close (remove): {t_close * 1000:.0f} ms")
    except Exception as exc:  # no engine: local numbers only
        print(f"docker: not measured ({exc})")
    for cmd in rows["local"]:
        print(f"\n{cmd}")
        for kind, r in rows.items():
            print(f"  {kind:6s} {fmt(r[cmd])}")
        if "docker" in rows:
            d = statistics.median(rows["docker"][cmd]) - statistics.median(rows["local"][cmd])
            print(f"  docker - local: {d * 1000:+.1f} ms per job")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
