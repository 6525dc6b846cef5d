"""Pipeline jobs that run in the sandbox: `python -m trainer_agent.skills.jobs SPEC RESULT`.

A job is this module run with a spec file in and a result file out, both inside the run
directory, so the same job runs in the Docker container or in a local subprocess. The spec names
the job and carries the typed inputs as JSON; the result is `{"ok": true, "result": {...}}`, or
`{"ok": false, "kind": "user" | "internal", "error": "..."}` when the job failed.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.atomic_write import write_atomic
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.export import export_onnx
from trainer_agent.skills.model.train import train_model
from trainer_agent.skills.specs import DataReport, TaskSpec, TrainResult


def _train(spec: dict[str, Any]) -> dict[str, Any]:

    task, data = TaskSpec.model_validate(spec["task"]), DataReport.model_validate(spec["data"])
    result = train_model(
        task,
        data,
        spec["run_dir"],
        seed=int(spec.get("seed", 0)),
        budget_min=spec.get("budget_min"),
        model_dir=spec.get("model_dir"),
        warm_start=spec.get("warm_start"),
        max_trials=spec.get("max_trials"),
        max_epochs=spec.get("max_epochs"),
        search_budget=spec.get("search_budget"),
        families=spec.get("families"),
        distill=spec.get("distill"),
    )
    return result.model_dump(mode="json")


def _export(spec: dict[str, Any]) -> dict[str, Any]:

    task, data = TaskSpec.model_validate(spec["task"]), DataReport.model_validate(spec["data"])
    train = TrainResult.model_validate(spec["train"])
    quantize = spec.get("quantize")  # None: the requirements decide (skills.export.variant)
    return export_onnx(
        task, data, train, spec["run_dir"], quantize=None if quantize is None else bool(quantize)
    ).model_dump(mode="json")


JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"train": _train, "export": _export}


def _write(path: Path, payload: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(payload, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m trainer_agent.skills.jobs SPEC RESULT", file=sys.stderr)
        return 2
    spec_path, result_path = Path(args[0]), Path(args[1])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    job = JOBS.get(spec.get("job", ""))
    if job is None:
        _write(result_path, {"ok": False, "kind": "internal", "error": f"unknown job {spec.get('job')!r}"})
        return 2
    try:
        result = job(spec)
    except UserError as err:
        _write(result_path, {"ok": False, "kind": "user", "error": str(err)})
        return 1
    except Exception as err:
        traceback.print_exc()
        _write(result_path, {"ok": False, "kind": "internal", "error": repr(err)})
        return 1
    _write(result_path, {"ok": True, "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
