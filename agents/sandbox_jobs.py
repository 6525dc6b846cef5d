"""Run a pipeline job (training, export) in the run's sandbox and bring its result back.

One sandbox per run, created on first use and reused by every job of the run (one warm
container with Docker), closed when the run ends. Paths inside the run directory are rewritten
to the sandbox's view of it on the way in and back on the way out.
"""

from __future__ import annotations

import json
from typing import Any

from trainer_agent.agents.approvals import approve
from trainer_agent.agents.run_state import Run
from trainer_agent.skills.errors import UserError

JOB_MODULE = "trainer_agent.skills.jobs"


def sandbox_for(run: Run) -> Any:
    """The run's sandbox, created on first use; its description is recorded once."""
    if run.sandbox is None:
        from trainer_agent.sandbox.config import load_config
        from trainer_agent.sandbox.select import make_sandbox

        overrides = {"gpus": run.options.gpus} if run.options.gpus else {}
        config = load_config(**overrides)
        # Network for jobs is an explicit opt-in in the config, and still needs approval.
        if config.network and not approve(run, "sandbox_network", "give sandbox jobs network access"):
            config = config.model_copy(update={"network": False})
        run.sandbox = make_sandbox(run.options.sandbox, run.run_dir, config)
        run.state["sandbox"] = run.sandbox.description
        run.save()
        run.transcript.event("sandbox", description=run.sandbox.description, gpu=run.sandbox.gpu_note)
        if run.log is not None:
            run.log(f"sandbox: {run.sandbox.description}")
    return run.sandbox


def run_job(run: Run, job: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run `skills.jobs` job `job` with `payload` in the sandbox; return its result.

    Raises UserError with the sandbox's reason when the job ran out of memory or time, or when the
    job itself reported bad input; RuntimeError for a crash.
    """
    sandbox = sandbox_for(run)
    host_root, inner_root = str(run.run_dir), sandbox.to_sandbox_path(run.run_dir)
    jobs_dir = run.run_dir / "jobs"
    jobs_dir.mkdir(exist_ok=True)
    spec_path, result_path = jobs_dir / f"{job}.spec.json", jobs_dir / f"{job}.result.json"
    spec = {"job": job, "run_dir": str(run.run_dir), **payload}
    spec_path.write_text(json.dumps(spec, indent=1).replace(host_root, inner_root), encoding="utf-8")

    def on_output(line: str) -> None:
        run.transcript.event("job_output", job=job, line=line.rstrip("\n"))
        if run.log is not None:
            run.log(f"[{job}] {line.rstrip()}")

    res = sandbox.run_job(JOB_MODULE, spec_path, result_path, timeout=timeout, on_output=on_output)
    run.transcript.event("job_done", job=job, exit_code=res.exit_code, seconds=round(res.duration_s, 3))
    if res.oom_killed or res.timed_out:
        raise UserError(f"The {job} job {res.reason}.")
    if not result_path.exists():
        tail = _tail(res.output)
        raise RuntimeError(f"the {job} job failed ({res.reason or f'exit {res.exit_code}'}): {tail}")
    outcome = json.loads(result_path.read_text(encoding="utf-8").replace(inner_root, host_root))
    if not outcome.get("ok"):
        if outcome.get("kind") == "user":
            raise UserError(outcome["error"])
        raise RuntimeError(f"the {job} job failed: {outcome.get('error')}: {_tail(res.output)}")
    result: dict[str, Any] = outcome["result"]
    return result


def _tail(output: str, lines: int = 3) -> str:
    return " | ".join(line for line in output.strip().splitlines()[-lines:]) or "no output"


def close_sandbox(run: Run) -> None:
    if run.sandbox is not None:
        run.sandbox.close()
        run.sandbox = None
