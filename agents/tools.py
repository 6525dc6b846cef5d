"""The skills each agent may call, bound to one run, registered as AG2 tools.

Every tool is a step of the run (see `Run.step`): it does its work once, records the result in
`state.json`, and returns a short JSON text for the chat. A bad input (`UserError`) or a bug
stops the run: the tool records the error on the run, and routing ends the chat.
"""

from __future__ import annotations

import inspect
import json
import os
import traceback
from collections.abc import Callable
from typing import Annotated, Any

from trainer_agent.agents import tool_args
from trainer_agent.agents.approvals import approve, ask
from trainer_agent.agents.ethics_judges import run_ethics_judges
from trainer_agent.agents.experiments import record_first, train_payload, warm_copy, warm_start_for
from trainer_agent.agents.person import latest_requirements
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.sandbox_jobs import run_job
from trainer_agent.agents.tool_args import DataArgs, Experiment, ExportArgs, ServeArgs, ToolArgs
from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.data.data_stage import needs_more_data, run_data_stage
from trainer_agent.skills.errors import UserError, disk_full, is_disk_full
from trainer_agent.skills.model.registry import Registry
from trainer_agent.skills.pipeline import PIPELINE, Step, refusal
from trainer_agent.skills.report import build_report, write_report
from trainer_agent.skills.serve.deploy import API_KEY_ENV
from trainer_agent.skills.serve.examples import example_inputs
from trainer_agent.skills.serve.rollout import deploy_model
from trainer_agent.skills.specs import DataReport, Deployment, ExportResult, TaskSpec, TrainResult
from trainer_agent.skills.task.requirements import parse_request


def _guard(run: Run, step: Step, given: dict[str, Any]) -> str:
    """Run a step with the arguments a brain chose, once the steps it needs have run; turn its
    outcome into the text the agent sees. Invalid arguments are one sentence back to the agent."""
    if run.fatal is not None:
        return f"Error: the run has already stopped: {run.fatal}"
    if why := refusal(step.tool, run.done_steps(), run.decision()):  # a step it needs has not run
        run.transcript.event("tool_refused", step=step.name, reason=why)
        return f"Error: {why}."
    try:
        args = tool_args.validate(step.name, given)
    except ValueError as err:
        run.transcript.event("tool_refused", step=step.name, reason=f"invalid arguments: {err}")
        return f"Error: invalid arguments for {step.tool}: {err}."
    try:
        recorded = (run.state["steps"].get(step.name) or {}).get("args")
        if step.name == "train" and run.done("train") and recorded != tool_args.shown(args):  # a remedy
            from trainer_agent.agents.experiments import run_experiment

            result = run_experiment(run, args)  # type: ignore[arg-type]
        else:
            from trainer_agent.agents.step_reuse import with_reuse

            work = WORK[step.name]
            result = run.step(
                step.name, lambda: with_reuse(run, step.name, args, work), args=tool_args.shown(args)
            )
    except UserError as err:
        run.fatal = err
        run.transcript.event("error", step=step.name, error=str(err), error_kind="user")
        return f"Error: {err}"
    except Exception as err:
        if is_disk_full(err):  # a job or a skill that could not write: the person can act on that
            run.fatal = disk_full(run.run_dir)
            run.transcript.event("error", step=step.name, error=str(run.fatal), error_kind="user")
            return f"Error: {run.fatal}"
        # a bug: stop the run, keep the details in the transcript
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


def _parse(run: Run, args: ToolArgs) -> dict[str, Any]:
    from trainer_agent.skills.task.triage import triage

    opts = run.options
    df = test_df = None
    if opts.data:
        df = load_table(opts.data)
        test_df = load_table(opts.test_data) if opts.test_data else None
    task = parse_request(opts.request, df, label=opts.label, text_col=opts.text)
    if run.state.get("chat", {}).get("changes"):  # revised in `chat`: a later requirement replaces one
        task = latest_requirements(task)
    judges, task.ethics_notes = run_ethics_judges(run)  # the LLM judge too when `--llm` names one
    task = triage(
        task,
        df,
        judges=judges,
        label_given=opts.label is not None,
        test_df=test_df,
        budget_min=opts.budget_min,
        max_trials=opts.max_trials,
        max_epochs=opts.max_epochs,
    )
    (run.run_dir / "spec.json").write_text(task.model_dump_json(indent=2), encoding="utf-8")
    return task.model_dump(mode="json")


def _prepare(run: Run, args: DataArgs) -> dict[str, Any]:

    opts = run.options
    assert opts.data is not None  # triage asks for data before this step can run
    report = run_data_stage(
        spec(run),
        opts.data,
        opts.test_data,
        run.run_dir,
        seed=opts.seed,
        approve=lambda kind, what: ask(run, kind, what),  # a Decision: granted or not, and by whom
        relabel_min_confidence=args.relabel_min_confidence,
        test_fraction=args.test_fraction,
        unlabelled_path=opts.unlabelled,
        use_catalog=args.use_catalog,
    )
    if report.questions:  # too little labelled data: the Task agent asks for more rather than train
        asked = needs_more_data(spec(run), report)
        run.state["steps"]["parse"]["result"] = asked.model_dump(mode="json")
        (run.run_dir / "spec.json").write_text(asked.model_dump_json(indent=2), encoding="utf-8")
    return report.model_dump(mode="json")


def _train(run: Run, args: Experiment) -> dict[str, Any]:
    """The first experiment, which trains the run's model: a job in the run's sandbox (Docker, or
    a local subprocess). Later experiments are `agents.experiments.run_experiment`."""

    opts, registry = run.options, Registry()
    if opts.reuse and (hit := registry.reuse(spec(run), data_report(run), run.run_dir)) is not None:
        return hit.model_dump(mode="json")
    payload, over = train_payload(run, args)
    if warm := warm_start_for(run):
        payload["warm_start"] = warm_copy(run, warm)
    result = TrainResult.model_validate(run_job(run, "train", payload))
    if over:
        result.notes.append(over)
    registry.register(spec(run), data_report(run), result)
    record_first(run, args, result)
    return result.model_dump(mode="json")


def _export(run: Run, args: ExportArgs) -> dict[str, Any]:
    """Conversion and its latency benchmark run as a job in the run's sandbox too."""

    payload = {"task": run.result("parse"), "data": run.result("data"), "train": run.result("train")}
    payload["quantize"] = args.quantize
    return ExportResult.model_validate(run_job(run, "export", payload)).model_dump(mode="json")


def _deploy(run: Run, args: ServeArgs) -> dict[str, Any]:
    """Serve, smoke-test, measure one replica, size, load-test briefly, document (skills.serve.rollout)."""

    if not approve(run, "start_service", "start a web service for the model on 127.0.0.1"):
        return {"skipped": "starting the service was not approved"}
    examples = example_inputs(spec(run), data_report(run), n=64)
    export = export_result(run)
    api_key = os.environ.get(API_KEY_ENV) or None  # as `serve` does: /predict then needs X-API-Key
    deployment = deploy_model(
        export.served_file,  # the int8 copy when the export kept it (skills.export.variant)
        run.run_dir,
        examples,
        spec(run).requirements,
        keep_running=run.options.serve,
        export=export.model_dump(mode="json"),
        replicas=args.replicas,
        load_seconds=args.load_test_s,
        api_key=api_key,
    )
    return Deployment.model_validate(deployment.model_dump()).model_dump(mode="json")


def _report(run: Run, args: ToolArgs) -> dict[str, Any]:

    report = build_report(run.run_dir, run.state, brain=run.state.get("brain", "offline"))
    write_report(run.run_dir, report)
    return {"decision": report.decision, "all_met": report.all_met, "report": str(run.run_dir / "report.md")}


# The work of each step of the pipeline table (skills.pipeline), by step name, with the step's
# validated arguments (agents.tool_args).
WORK: dict[str, Callable[[Run, Any], dict[str, Any]]] = {
    "parse": _parse,
    "data": _prepare,
    "train": _train,
    "export": _export,
    "serve": _deploy,
    "report": _report,
}


def make_tools(run: Run) -> dict[str, Callable[..., str]]:
    """Every step's tool by name (`skills.pipeline`), as a callable whose keyword arguments are the
    step's decisions (`agents.tool_args`, each with its description) and whose docstring, the
    step's `detail`, is what an LLM is told it does."""

    def tool(step: Step) -> Callable[..., str]:
        def fn(**given: Any) -> str:
            return _guard(run, step, given)

        fn.__name__ = fn.__qualname__ = step.tool
        fn.__doc__ = step.detail[:1].upper() + step.detail[1:]
        fn.__signature__ = sig = _signature(tool_args.ARGS[step.name])  # type: ignore[attr-defined]
        # the same Annotated objects: AG2 reads the descriptions through __annotations__
        fn.__annotations__ = {p.name: p.annotation for p in sig.parameters.values()} | {"return": str}
        return fn

    return {step.tool: tool(step) for step in PIPELINE}


def _signature(model: type[ToolArgs]) -> inspect.Signature:
    """A keyword parameter per field, `Annotated` with its description (AG2 builds the JSON schema
    an LLM sees from it)."""
    params = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=Annotated[field.annotation, field.description or name],  # type: ignore[name-defined]
        )
        for name, field in model.model_fields.items()
    ]
    return inspect.Signature(params, return_annotation=str)
