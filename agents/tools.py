"""The skills each agent may call, bound to one run, registered as AG2 tools.

Every tool is a step of the run (see `Run.step`): it does its work once, records the result in
`state.json`, and returns a short JSON text for the chat. A bad input (`UserError`) or a bug
stops the run: the tool records the error on the run, and routing ends the chat.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

from agents.run_state import Run
from skills.errors import UserError
from skills.pipeline import PIPELINE, Step, refusal
from skills.specs import DataReport, Deployment, ExportResult, TaskSpec, TrainResult


def _guard(run: Run, step: Step, fn: Callable[[], dict[str, Any]]) -> str:
    """Run a step once the steps it needs have run; turn its outcome into the text the agent sees."""
    if run.fatal is not None:
        return f"Error: the run has already stopped: {run.fatal}"
    if why := refusal(step.tool, run.done_steps(), run.decision()):  # a step it needs has not run
        run.transcript.event("tool_refused", step=step.name, reason=why)
        return f"Error: {why}."
    try:
        result = run.step(step.name, fn)
    except UserError as err:
        run.fatal = err
        run.transcript.event("error", step=step.name, error=str(err), error_kind="user")
        return f"Error: {err}"
    except Exception as err:  # a bug: stop the run, keep the details in the transcript
        run.fatal = err
        run.transcript.event(
            "error", step=step.name, error=repr(err), error_kind="internal", trace=traceback.format_exc()
        )
        return f"Error: internal error in {step.name}: {err!r}"
    return json.dumps(result, default=str)


def spec(run: Run) -> TaskSpec:
    return TaskSpec.model_validate(run.result("parse"))


def data_report(run: Run) -> DataReport:
    return DataReport.model_validate(run.result("data"))


def export_result(run: Run) -> ExportResult:
    return ExportResult.model_validate(run.result("export"))


def _parse(run: Run) -> dict[str, Any]:
    from skills.requirements import parse_request
    from skills.triage import triage

    opts = run.options
    df = test_df = None
    if opts.data:
        from skills.data_io import load_table

        df = load_table(opts.data)
        test_df = load_table(opts.test_data) if opts.test_data else None
    task = parse_request(opts.request, df, label=opts.label, text_col=opts.text)
    if run.state.get("chat", {}).get("changes"):  # revised in `chat`: a later requirement replaces one
        from agents.person import latest_requirements

        task = latest_requirements(task)
    task = triage(
        task,
        df,
        label_given=opts.label is not None,
        test_df=test_df,
        budget_min=opts.budget_min,
        max_trials=opts.max_trials,
        max_epochs=opts.max_epochs,
    )
    (run.run_dir / "spec.json").write_text(task.model_dump_json(indent=2), encoding="utf-8")
    return task.model_dump(mode="json")


def _prepare(run: Run) -> dict[str, Any]:
    from agents.approvals import approve
    from skills.data_stage import needs_more_data, run_data_stage

    opts = run.options
    assert opts.data is not None  # triage asks for data before this step can run
    report = run_data_stage(
        spec(run),
        opts.data,
        opts.test_data,
        run.run_dir,
        seed=opts.seed,
        approve=lambda kind, what: approve(run, kind, what),
    )
    if report.questions:  # too little labelled data: the Task agent asks for more rather than train
        asked = needs_more_data(spec(run), report)
        run.state["steps"]["parse"]["result"] = asked.model_dump(mode="json")
        (run.run_dir / "spec.json").write_text(asked.model_dump_json(indent=2), encoding="utf-8")
    return report.model_dump(mode="json")


def _train(run: Run) -> dict[str, Any]:
    """Training runs as a job in the run's sandbox (Docker, or a local subprocess)."""
    from agents.sandbox_jobs import run_job
    from skills.registry import Registry

    opts, registry = run.options, Registry()
    if opts.reuse and (hit := registry.reuse(spec(run), data_report(run), run.run_dir)) is not None:
        return hit.model_dump(mode="json")
    payload = {"task": run.result("parse"), "data": run.result("data"), "seed": opts.seed}
    budget_min, over = _within_run_budget(run)
    payload |= {"budget_min": budget_min, "model_dir": _pretrained_copy(run, opts.model_dir)}
    payload |= {"max_trials": opts.max_trials, "max_epochs": opts.max_epochs}
    if budget_min == opts.budget_min:  # the budget the plan stated, unless --max-minutes held it
        payload["search_budget"] = ((run.result("parse") or {}).get("estimate") or {}).get("search_budget")
    if opts.warm_start and (warm := registry.warm_start(spec(run), data_report(run))):
        payload["warm_start"] = _warm_copy(run, warm)
    result = TrainResult.model_validate(run_job(run, "train", payload))
    if over:
        result.notes.append(over)
    registry.register(spec(run), data_report(run), result)
    return result.model_dump(mode="json")


def _within_run_budget(run: Run) -> tuple[float | None, str]:
    """(the Model agent's budget in minutes, a note). With --max-minutes, training estimated to run
    past what is left of it is the `over_budget` approval: approved, it trains as planned; denied,
    the model search is held to the time left (at least 6 s: one candidate is always tried)."""
    from datetime import datetime

    from agents.approvals import ask

    opts = run.options
    if not opts.max_seconds:
        return opts.budget_min, ""
    estimate = (run.result("parse") or {}).get("estimate") or {}
    need = float((estimate.get("steps_seconds") or {}).get("train") or 0.0)
    spent = (datetime.now().astimezone() - datetime.fromisoformat(run.state["created"])).total_seconds()
    left = max(0.0, opts.max_seconds - spent)
    if need <= left:
        return opts.budget_min, ""
    what = f"train for about {need:.0f} s, more than the {left:.0f} s left of --max-minutes"
    decision = ask(run, "over_budget", what)
    if decision.granted:
        return (
            opts.budget_min,
            f"Training was expected to go past --max-minutes ({what}); approved ({decision.by}).",
        )
    held = max(0.1, round(0.8 * left / 60, 2))
    return held, (
        f"Training was held to {held:g} min of model search: going past --max-minutes ({what}) was not "
        f"approved ({decision.by})."
    )


def _warm_copy(run: Run, warm: dict[str, Any]) -> dict[str, Any]:
    """The registry's warm start, with a torch net's file copied into the run directory (the only
    place sandbox jobs can read); scikit-learn settings travel in the payload itself."""
    import shutil
    from pathlib import Path

    src, warm = Path(warm.get("model_path") or ""), {**warm, "model_path": None}
    if src.suffix == ".pt" and src.is_file():
        target = run.run_dir / "warm_start" / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        warm["model_path"] = str(target)
    return warm


HUB_PREFIX = "hub:"


def _pretrained_copy(run: Run, model_dir: str | None) -> str | None:
    """A copy of --model-dir inside the run directory, the only place sandbox jobs can read;
    `hub:NAME` downloads NAME from the Hugging Face hub there first (here, outside the sandbox)."""
    if not model_dir:
        return None
    import shutil
    from pathlib import Path

    if model_dir.startswith(HUB_PREFIX):
        return _from_hub(run, model_dir.removeprefix(HUB_PREFIX))
    if not Path(model_dir).is_dir():
        raise UserError(f"Model directory {model_dir} does not exist.")
    target = run.run_dir / "pretrained"
    if not target.exists():
        shutil.copytree(model_dir, target)
    return str(target)


def _from_hub(run: Run, name: str) -> str:
    target = run.run_dir / "pretrained"
    if (target / "config.json").is_file():
        return str(target)
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=name, local_dir=target, etag_timeout=10)
    except Exception as err:  # offline, unknown name, gated model: one sentence, never a traceback
        raise UserError(
            f"could not download {name} from the Hugging Face hub ({type(err).__name__}); give a local "
            "directory with --model-dir, or leave it out to train from scratch."
        ) from None
    run.transcript.event("pretrained_downloaded", name=name, path=str(target))
    return str(target)


def _export(run: Run) -> dict[str, Any]:
    """Conversion and its latency benchmark run as a job in the run's sandbox too."""
    from agents.sandbox_jobs import run_job

    payload = {"task": run.result("parse"), "data": run.result("data"), "train": run.result("train")}
    return ExportResult.model_validate(run_job(run, "export", payload)).model_dump(mode="json")


def _deploy(run: Run) -> dict[str, Any]:
    """Serve, smoke-test, measure one replica, size, load-test briefly, document (skills.rollout)."""
    from agents.approvals import approve
    from skills.examples import example_inputs
    from skills.rollout import deploy_model

    if not approve(run, "start_service", "start a web service for the model on 127.0.0.1"):
        return {"skipped": "starting the service was not approved"}
    examples = example_inputs(spec(run), data_report(run), n=64)
    export = export_result(run)
    deployment = deploy_model(
        export.onnx_path,
        run.run_dir,
        examples,
        spec(run).requirements,
        keep_running=run.options.serve,
        export=export.model_dump(mode="json"),
    )
    return Deployment.model_validate(deployment.model_dump()).model_dump(mode="json")


def _report(run: Run) -> dict[str, Any]:
    from skills.report import build_report, write_report

    report = build_report(run.run_dir, run.state, brain=run.state.get("brain", "offline"))
    write_report(run.run_dir, report)
    return {"decision": report.decision, "all_met": report.all_met, "report": str(run.run_dir / "report.md")}


# The work of each step of the pipeline table (skills.pipeline), by step name.
WORK: dict[str, Callable[[Run], dict[str, Any]]] = {
    "parse": _parse,
    "data": _prepare,
    "train": _train,
    "export": _export,
    "serve": _deploy,
    "report": _report,
}


def make_tools(run: Run) -> dict[str, Callable[[], str]]:
    """Every step's tool by name (`skills.pipeline`), as a zero-argument callable whose docstring,
    the step's `detail`, is what an LLM is told it does."""

    def tool(step: Step) -> Callable[[], str]:
        def fn() -> str:
            return _guard(run, step, lambda: WORK[step.name](run))

        fn.__name__ = fn.__qualname__ = step.tool
        fn.__doc__ = step.detail[:1].upper() + step.detail[1:]
        return fn

    return {step.tool: tool(step) for step in PIPELINE}
