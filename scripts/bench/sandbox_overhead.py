#!/usr/bin/env python
"""Sandbox overhead: job time in the Docker executor vs the local executor.

    .venv/bin/python scripts/bench/sandbox_overhead.py [--repeats 3] [--micro 5] [--build]

Three measurements, interleaved so that a change in the machine's load hits both executors:
- trainer-agent's own `train` job for the tabular classification task, in a fresh run directory
  (the prepared data and the Task and Data agents' results of an end-to-end run), through
  `agents.sandbox_jobs.run_job` as `trainer-agent run` does it; with Docker, the container's start
  is part of it;
- a fixed script (5-fold cross-validation of gradient boosting on the same training file) run in a
  warm sandbox of each kind: the same code on both sides, whatever trainer-agent version the image
  holds;
- per-command overhead of trivial commands (`true`, `python -c pass`, a self-test job,
  `import torch`), from scripts/bench_sandbox.py's `bench`.

Docker jobs run the project code baked into the image; `image_source_current` says whether that is
this tree's code (`--build` rebuilds a stale image first: several minutes). Writes
scripts/bench/results/sandbox.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import ROOT, WORK, read_result, write_result

TASK = "tabular_cls"


def source_run() -> Path:
    for row in (read_result("e2e") or {}).get("runs", []):
        if row.get("task") == TASK and row.get("run_dir") and row.get("decision") == "accept":
            return Path(row["run_dir"])
    from e2e import one_run

    return Path(one_run(TASK, 0, "local", WORK / "sandbox" / "source")["run_dir"])


def fresh_run(src: Path, kind: str, out: Path) -> Any:
    """A run directory with src's data and its parse/data results, ready for the train job."""
    from trainer_agent.agents.run_state import Run, RunOptions

    state = json.loads((src / "state.json").read_text(encoding="utf-8"))
    run = Run.create(out, RunOptions(request=state["options"]["request"], sandbox=kind))
    shutil.copytree(src / "data", run.run_dir / "data")
    for step in ("parse", "data"):
        text = json.dumps(state["steps"][step]).replace(str(src), str(run.run_dir))
        run.state["steps"][step] = json.loads(text)
    run.save()
    return run


def train_job(src: Path, kind: str, out: Path) -> dict[str, float | None]:
    """trainer-agent's own train job in a fresh run's sandbox (Docker: container start included)."""
    from trainer_agent.agents.sandbox_jobs import close_sandbox, run_job
    from trainer_agent.sandbox.config import load_config

    run = fresh_run(src, kind, out)
    if kind == "docker":
        from trainer_agent.sandbox.docker_sandbox import DockerSandbox

        # Made here rather than by make_sandbox, which refuses an image built from other source:
        # other people edit this tree while the benchmark runs (see image_source_current).
        run.sandbox = DockerSandbox(run.run_dir, load_config())
    payload = {"task": run.result("parse"), "data": run.result("data"), "seed": 0}
    payload |= {"budget_min": None, "model_dir": None}
    t0 = time.perf_counter()
    result = run_job(run, "train", payload)
    job = time.perf_counter() - t0
    start = getattr(run.sandbox, "start_seconds", None)
    t1 = time.perf_counter()
    close_sandbox(run)
    return {
        "job_s": round(job, 3),
        "train_s_inside": round(float(result.get("train_seconds") or 0.0), 3),
        "container_start_s": round(start, 3) if start is not None else None,
        "close_s": round(time.perf_counter() - t1, 3),
    }


FIXED_JOB = """
import json, time
t0 = time.perf_counter()
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import cross_val_score
t1 = time.perf_counter()
x = pd.read_csv("train.csv")
y = x.pop("diagnosis")
scores = cross_val_score(GradientBoostingClassifier(random_state=0), x, y, cv=5)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "fit_s": t2 - t1, "cv_accuracy": float(scores.mean())}))
"""


def fixed_jobs(src: Path, kinds: list[str], repeat: int) -> dict[str, list[dict[str, float]]]:
    """The same script (5-fold CV of gradient boosting on the task's training file) in one warm
    sandbox of each kind, alternating: identical code on both sides, whatever the image holds."""
    from trainer_agent.sandbox.config import load_config

    cfg = load_config()
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    with contextlib.ExitStack() as stack:
        boxes: dict[str, Any] = {}
        for kind in kinds:
            ws = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            shutil.copy(src / "data" / "train.csv", ws / "train.csv")
            (ws / "fixed_job.py").write_text(FIXED_JOB, encoding="utf-8")
            if kind == "local":
                from trainer_agent.sandbox.local import LocalSandbox

                boxes[kind] = stack.enter_context(LocalSandbox(ws, cfg))
            else:
                from trainer_agent.sandbox.docker_sandbox import DockerSandbox

                boxes[kind] = stack.enter_context(DockerSandbox(ws, cfg))
            boxes[kind].run(["python", "-c", "import sklearn.ensemble, pandas"], timeout=120)  # warm up
        for _ in range(repeat):
            for kind, sb in boxes.items():
                t0 = time.perf_counter()
                res = sb.run(["python", "fixed_job.py"], timeout=600)
                wall = time.perf_counter() - t0
                if not res.ok:
                    raise RuntimeError(f"fixed job failed in {kind}: {res.reason}: {res.output[-400:]}")
                inner = json.loads(res.output.strip().splitlines()[-1])
                rows[kind].append({"wall_s": round(wall, 3), **{k: round(v, 4) for k, v in inner.items()}})
    return rows


def image_state() -> dict[str, Any]:
    from trainer_agent.sandbox.select import check

    report = check()
    keys = ("engine_ok", "engine_note", "image_present", "image_size", "image_source_current", "executor")
    return {k: report.get(k) for k in keys if k in report}


def build_image() -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "trainer-agent"), "sandbox", "build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return {
        "exit_code": proc.returncode,
        "seconds": round(time.perf_counter() - t0, 1),
        "tail": (proc.stdout + proc.stderr)[-400:],
    }


def micro(kind: str, repeat: int) -> dict[str, Any]:
    """scripts/bench_sandbox.py's per-command timings, medians in ms."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_sandbox import bench

    from trainer_agent.sandbox.config import load_config

    cfg = load_config()
    with tempfile.TemporaryDirectory() as ws:
        if kind == "local":
            from trainer_agent.sandbox.local import LocalSandbox

            sb: Any = LocalSandbox(ws, cfg)
        else:
            from trainer_agent.sandbox.docker_sandbox import DockerSandbox

            sb = DockerSandbox(ws, cfg)
        with sb:
            sb.run(["python", "-c", "import torch"], timeout=120)  # warm the page cache
            rows = bench(sb, repeat)
    return {cmd: round(statistics.median(times) * 1000, 1) for cmd, times in rows.items()}


def _med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--micro", type=int, default=5, help="repeats of each trivial command")
    ap.add_argument("--build", action="store_true", help="rebuild a stale image first (minutes)")
    args = ap.parse_args()
    started = time.time()
    src = source_run()
    out = WORK / "sandbox" / "runs"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result: dict[str, Any] = {"job": f"train job of the {TASK} task ({src.name})", "repeats": args.repeats}
    image = image_state()
    if image.get("engine_ok") and not image.get("image_source_current") and args.build:
        print("sandbox image is stale or missing: building it", flush=True)
        result["build"] = build_image()
        image = image_state()
    result["image"] = image
    kinds = ["local"] + (["docker"] if image.get("engine_ok") and image.get("image_present") else [])
    if "docker" not in kinds:
        result["docker_not_measured"] = image.get("engine_note") or "no sandbox image"
    jobs: dict[str, list[dict[str, float | None]]] = {k: [] for k in kinds}
    for i in range(args.repeats):
        for kind in kinds:  # interleaved, so a change in the machine's load hits both
            jobs[kind].append(train_job(src, kind, out))
            print(f"{kind} train job #{i}: {jobs[kind][-1]}", flush=True)
    fixed = fixed_jobs(src, kinds, args.repeats)
    print(f"fixed job: {fixed}", flush=True)
    result["train_job"] = jobs
    result["fixed_job"] = fixed
    result["median"] = {
        kind: {
            "train_job_s": _med([r["job_s"] for r in jobs[kind]]),
            "train_s_inside": _med([r["train_s_inside"] for r in jobs[kind]]),
            "container_start_s": _med([r["container_start_s"] for r in jobs[kind]]),
            "fixed_job_wall_s": _med([r["wall_s"] for r in fixed[kind]]),
            "fixed_job_fit_s": _med([r["fit_s"] for r in fixed[kind]]),
            "fixed_job_import_s": _med([r["import_s"] for r in fixed[kind]]),
        }
        for kind in kinds
    }
    result["micro_ms"] = {kind: micro(kind, args.micro) for kind in kinds}
    if "docker" in kinds:
        d, loc = result["median"]["docker"], result["median"]["local"]
        result["overhead"] = {
            key: {"docker_minus_local_s": round(d[key] - loc[key], 3), "ratio": round(d[key] / loc[key], 3)}
            for key in ("train_job_s", "fixed_job_wall_s")
            if d[key] and loc[key]
        }
    write_result("sandbox", result, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
