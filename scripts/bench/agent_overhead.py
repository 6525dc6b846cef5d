#!/usr/bin/env python
"""Agent overhead: the time a run spends outside the skills, and the LLM calls and tokens a run takes.

    .venv/bin/python scripts/bench/agent_overhead.py [--repeats 1]

- Offline brain: taken from results/e2e.json (per run: the in-run wall time from state.json's
  created/finished minus the sum of the steps' durations; split into set-up before the first step,
  the time between steps and after the last one; plus the process start before the run exists).
- LLM brain: the tabular classification task run with `--llm config:...` against
  tests/fake_openai.py, a real OpenAI-compatible HTTP server on 127.0.0.1 that answers with a
  scripted, well-behaved conversation (every agent calls its tool and reports its spec once). AG2,
  the openai client, the spec checks and the recording all run for real; only the model's answers
  are canned, and they come back at once, so the time measured excludes a real model's latency. The
  server counts tokens as characters / 4 of the messages it receives (not a real tokenizer): the
  count tracks the size of what the agents send, reproducibly.

Writes scripts/bench/results/agent.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlib import ROOT, TASKS, WORK, cli, make_datasets, median, read_result, write_result

sys.path.insert(0, str(ROOT))

from tests.fake_openai import FakeOpenAI, Reply, call, dynamic, say  # noqa: E402

TASK = "tabular_cls"
KEY_ENV = "BENCH_FAKE_LLM_KEY"
KEY = "sk-bench-0000000000000000"


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in body["messages"] if m.get("role") == "tool"]


def _report(text: str, pick: Any) -> Reply:
    return dynamic(lambda body: say(f"{text}\n```json\n{json.dumps(pick(_tool_results(body)))}\n```"))


def script() -> dict[str, list[Reply]]:
    """One clean conversation: each agent acts once and reports its spec JSON; no retries."""
    reading = {
        "task_type": "tabular_classification",
        "label_column": "diagnosis",
        "requirements": [{"name": "accuracy", "op": ">=", "target": 0.95}],
    }
    return {
        "task_agent": [
            say(f"My reading of the request:\n```json\n{json.dumps(reading)}\n```"),
            call("parse_request"),
            say("Plan: data, then model, then server.\ndata_agent: prepare the data.\nNEXT: data_agent"),
            say("Data accepted.\nNEXT: model_agent"),
            say("Model accepted.\nNEXT: server_agent"),
            call("write_report"),
            say("Done.\nTERMINATE"),
        ],
        "data_agent": [call("prepare_data"), _report("Data ready.", lambda r: r[-1])],
        "model_agent": [call("train_model"), _report("Trained.", lambda r: r[-1])],
        "server_agent": [
            call("export_model"),
            call("deploy_service"),
            _report("Exported and serving.", lambda r: {"export": r[-2], "deployment": r[-1]}),
        ],
    }


def llm_run(out: Path) -> dict[str, Any]:
    import yaml

    task = TASKS[TASK]
    out.mkdir(parents=True, exist_ok=True)
    with FakeOpenAI(script(), api_key=KEY) as server:
        config = out / "llm.yaml"
        default = {"model": "fake-model", "base_url": server.base_url, "api_key_env": KEY_ENV}
        default |= {"temperature": 0.0, "timeout": 30, "max_retries": 1, "price": [0.0, 0.0]}
        config.write_text(yaml.safe_dump({"default": default}), encoding="utf-8")
        os.environ[KEY_ENV] = KEY
        runs = out / "runs"
        before = set(runs.glob("*")) if runs.exists() else set()
        args = ["run", task.request, "--data", str(task.train_path), "--test-data", str(task.test_path)]
        args += ["--label", task.label, "--out", str(runs), "--llm", f"config:{config}", "--sandbox", "local"]
        code, wall, stdout, stderr = cli(*args)
        sent = server.usage_sent()
        left = server.remaining()
    (run_dir,) = sorted(set(runs.glob("*")) - before)
    state = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    steps = sum(float(v) for v in state["durations"].values())
    created = datetime.fromisoformat(state["created"])
    in_run = (datetime.fromisoformat(state["finished"]) - created).total_seconds()
    usage = report.get("llm_usage") or {}
    return {
        "exit_code": code,
        "error": "" if code in (0, 3) else (stderr or stdout)[-600:],
        "run_dir": str(run_dir),
        "process_wall_s": round(wall, 3),
        "in_run_wall_s": round(in_run, 3),
        "steps_s": round(steps, 3),
        "agent_overhead_s": round(in_run - steps, 3),
        "durations": state["durations"],
        "calls": usage.get("calls"),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "per_agent": {
            a: {k: u.get(k) for k in ("calls", "prompt_tokens", "completion_tokens")}
            for a, u in (usage.get("per_agent") or {}).items()
        },
        "server_counted": sent,
        "script_left": left,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="LLM-brain runs (the token counts repeat)")
    args = ap.parse_args()
    started = time.time()
    make_datasets()
    e2e = read_result("e2e") or {}
    offline = {}
    for name, s in (e2e.get("summary") or {}).items():
        offline[name] = {
            k: s.get(k)
            for k in (
                "decision",
                "process_wall_s",
                "in_run_wall_s",
                "steps_s",
                "agent_overhead_s",
                "startup_s",
                "overhead_parts_s",
            )
        }
    llm = []
    for i in range(args.repeats):
        row = llm_run(WORK / "agent" / f"llm{i}")
        print(
            f"LLM run {i}: exit {row['exit_code']}, {row['calls']} calls, "
            f"{row['prompt_tokens']} prompt tokens, overhead {row['agent_overhead_s']} s",
            flush=True,
        )
        llm.append(row)
    ok = [r for r in llm if r["exit_code"] in (0, 3)]
    write_result(
        "agent",
        {
            "offline": offline,
            "llm_task": TASK,
            "llm_runs": llm,
            "llm_median": {
                k: median([r[k] for r in ok])
                for k in ("process_wall_s", "in_run_wall_s", "steps_s", "agent_overhead_s", "calls")
            },
            "llm_tokens": {k: ok[0][k] for k in ("prompt_tokens", "completion_tokens", "per_agent")}
            if ok
            else {},
        },
        started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
