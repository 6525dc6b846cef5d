#!/usr/bin/env python
"""End to end: `trainer-agent run` on a text, a tabular classification, a tabular regression and an
image task, each with a stated requirement, several times; per run the decision, requirements met,
held-out metric, parameters, ONNX size, wall time per stage and the agent overhead.

    .venv/bin/python scripts/bench/e2e.py [--repeats 3] [--tasks text,tabular_cls,tabular_reg,image]
        [--sandbox local]

Runs use seeds 0, 1, 2, ... (the split of a task is fixed: every task has its own test file), the
offline brain, no warm start from the model library (each repeat trains cold) and `--sandbox
local` by default (the Docker executor is measured apart, in sandbox_overhead.py). Writes
scripts/bench/results/e2e.json; run directories go to runs/bench/e2e/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlib import TASKS, WORK, cli, machine, make_datasets, median, write_result

STAGES = ("parse", "data", "train", "export", "serve", "report")


def _seconds_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def _overhead_parts(state: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """Where the agents' time goes: before the first step (AG2 import, agents, group chat), between
    steps (turns, routing, spec checks) and after the last step (closing, the final state)."""
    spans = []
    for step in (state.get("steps") or {}).values():
        if step.get("status") == "done" and step.get("ended") and step.get("seconds") is not None:
            end = datetime.fromisoformat(step["ended"])
            spans.append((end.timestamp() - float(step["seconds"]), end.timestamp()))
    if not spans or not state.get("finished"):
        return None, None, None
    spans.sort()
    created = datetime.fromisoformat(state["created"]).timestamp()
    finished = datetime.fromisoformat(state["finished"]).timestamp()
    gaps = sum(max(0.0, b[0] - a[1]) for a, b in zip(spans, spans[1:], strict=False))
    return round(spans[0][0] - created, 3), round(gaps, 3), round(finished - spans[-1][1], 3)


def one_run(task_name: str, seed: int, sandbox: str, out: Path) -> dict[str, Any]:
    task = TASKS[task_name]
    args = task.run_args(out, seed, sandbox)  # each repeat trains cold, independent of the model library
    before = set(out.glob("*")) if out.exists() else set()
    code, wall, stdout, stderr = cli(*args)
    new = sorted(set(out.glob("*")) - before)
    run_dir = new[-1] if new else None
    row: dict[str, Any] = {
        "task": task_name,
        "seed": seed,
        "exit_code": code,
        "process_wall_s": round(wall, 2),
    }
    if code not in (0, 2, 3) or run_dir is None:
        row["error"] = (stderr or stdout)[-800:]
        return row
    report = json.loads(stdout)
    state = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
    durations = {k: float(v) for k, v in (state.get("durations") or {}).items()}
    in_run = _seconds_between(state["created"], state["finished"]) if state.get("finished") else None
    steps = sum(durations.values())
    setup_s, gaps_s, tail_s = _overhead_parts(state)
    reqs = report.get("requirements") or []
    metrics = report.get("metrics") or {}
    model = report.get("model") or {}
    service = report.get("service") or {}
    measured = service.get("measured") or {}
    estimate = service.get("estimate") or {}
    row.update(
        {
            "run_dir": str(run_dir),
            "decision": report["decision"],
            "reasons": report.get("reasons") or [],
            "requirements": [
                {k: r.get(k) for k in ("name", "op", "target", "achieved", "met")} for r in reqs
            ],
            "met": sum(1 for r in reqs if r.get("met") is True),
            "total": len(reqs),
            "metric": metrics.get(task.metric),
            "metrics": {k: v for k, v in metrics.items() if "[" not in k},
            "family": model.get("family"),
            "params": model.get("params"),
            "size_bytes": model.get("size_bytes"),
            "durations": durations,
            "steps_s": round(steps, 3),
            "in_run_wall_s": round(in_run, 3) if in_run is not None else None,
            # The agents' own time: the conversation, routing, spec checks, recording. The process's
            # start (Python, imports) is apart: process wall - in-run wall.
            "agent_overhead_s": round(in_run - steps, 3) if in_run is not None else None,
            "startup_s": round(wall - in_run, 3) if in_run is not None else None,
            "overhead_parts_s": {"setup": setup_s, "between_steps": gaps_s, "after_last_step": tail_s},
            "service_qps": measured.get("qps"),
            "service_p50_ms": measured.get("p50_ms"),
            "service_p95_ms": measured.get("p95_ms"),
            "estimate_error": estimate.get("error"),
            "sandbox": report.get("sandbox", ""),
            "brain": report.get("brain", ""),
        }
    )
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over the runs of one task (and the range of the metric)."""
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return {"runs": len(rows), "errors": len(rows)}
    metric_vals = [r["metric"] for r in ok if r.get("metric") is not None]
    stages = {s: median([r["durations"].get(s) for r in ok]) for s in STAGES}
    return {
        "runs": len(rows),
        "errors": len(rows) - len(ok),
        "exit_codes": [r["exit_code"] for r in rows],
        "decision": ok[0]["decision"],
        "reasons": ok[0]["reasons"],
        "met": median([r["met"] for r in ok]),
        "total": ok[0]["total"],
        "requirements": ok[0]["requirements"],
        "metric": median(metric_vals),
        "metric_range": [min(metric_vals), max(metric_vals)] if metric_vals else None,
        "metrics": {k: median([r["metrics"].get(k) for r in ok]) for k in ok[0]["metrics"]},
        "family": ok[0]["family"],
        "families": sorted({str(r["family"]) for r in ok}),
        "params": median([r["params"] for r in ok]),
        "size_bytes": median([r["size_bytes"] for r in ok]),
        "stages_s": {k: v for k, v in stages.items() if v is not None},
        "steps_s": median([r["steps_s"] for r in ok]),
        "in_run_wall_s": median([r["in_run_wall_s"] for r in ok]),
        "process_wall_s": median([r["process_wall_s"] for r in ok]),
        "agent_overhead_s": median([r["agent_overhead_s"] for r in ok]),
        "startup_s": median([r["startup_s"] for r in ok]),
        "overhead_parts_s": {
            k: median([(r.get("overhead_parts_s") or {}).get(k) for r in ok])
            for k in ("setup", "between_steps", "after_last_step")
        },
        "service_qps": median([r["service_qps"] for r in ok]),
        "service_p95_ms": median([r["service_p95_ms"] for r in ok]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--sandbox", default="local", choices=("local", "docker", "auto"))
    args = ap.parse_args()
    started = time.time()
    make_datasets()
    out_root = WORK / "e2e"
    shutil.rmtree(out_root, ignore_errors=True)
    runs: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    loads: list[list[float]] = []
    for name in args.tasks.split(","):
        rows = []
        for seed in range(args.repeats):
            loads.append(machine()["load_avg"])
            row = one_run(name, seed, args.sandbox, out_root / name)
            print(
                f"{name} seed {seed}: exit {row['exit_code']}, {row.get('decision')}, "
                f"{TASKS[name].metric} {row.get('metric')}, {row['process_wall_s']} s",
                flush=True,
            )
            rows.append(row)
        runs.extend(rows)
        summary[name] = {
            "kind": TASKS[name].kind,
            "data": TASKS[name].note,
            "metric_name": TASKS[name].metric,
        }
        summary[name] |= {"request": TASKS[name].request, **summarise(rows)}
    write_result(
        "e2e",
        {
            "repeats": args.repeats,
            "sandbox": args.sandbox,
            "brain": "offline",
            "load_avg_at_each_run": loads,
            "summary": summary,
            "runs": runs,
        },
        started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
