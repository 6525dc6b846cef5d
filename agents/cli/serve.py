"""CLI commands for a run's model service: serve, status, package (Docker image), loadtest.

    trainer-agent serve runs/<id>          # background service on 127.0.0.1; `stop` ends it
    trainer-agent status runs/<id>         # is it running, /health, /ready, memory
    trainer-agent package runs/<id>        # service/Dockerfile + docker build (sandbox image base)
    trainer-agent loadtest runs/<id> --qps 50 --seconds 30

Registered on the main app by `register(app)`; heavy modules load inside the commands.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

RunDirArg = Annotated[Path, typer.Argument(help="The run directory (runs/<id>).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _note(message: str) -> None:
    typer.echo(f"note: {message}", err=True)


def _state(run_dir: Path) -> dict[str, Any]:
    """The run's state.json; one sentence and exit 1 when it is missing or damaged."""
    from trainer_agent.agents.run_state import read_state
    from trainer_agent.skills.errors import UserError

    try:
        return read_state(run_dir)
    except UserError as err:
        _fail(str(err), err.exit_code)
        raise  # unreachable: _fail exits


def _step(state: dict[str, Any], name: str) -> Any:
    """A finished step's result as a dict, else None (also when state.json was edited out of shape)."""
    steps = state.get("steps")
    entry = steps.get(name) if isinstance(steps, dict) else None
    if not isinstance(entry, dict) or entry.get("status") != "done":
        return None
    return entry.get("result") if isinstance(entry.get("result"), dict) else None


ApproveOpt = Annotated[
    str | None,
    typer.Option(
        "--approve",
        help="Approval policy for this step (auto, ask, never, policy or a file); default: the run's own.",
    ),
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _approved(run_dir: Path, policy: str | None, kind: str, description: str) -> None:
    """Ask for a risky step under `policy` (or the run's recorded --approve); the decision goes into
    the run's transcript. Denied: one sentence and exit 2 (declined)."""
    from trainer_agent.agents.approvals import ask, check_policy
    from trainer_agent.agents.run_state import Run, RunOptions
    from trainer_agent.skills.errors import UserError

    state = _state(run_dir)
    try:
        options = RunOptions(**state["options"])
    except (KeyError, TypeError):  # no options recorded (or damaged ones): the default policy
        options = RunOptions(request="")
    run = Run(run_dir=run_dir, options=options, state=state)
    try:
        if policy is not None:
            run.options.approve = check_policy(policy)
    except UserError as err:
        _fail(str(err))
    decision = ask(run, kind, description)
    if not decision.granted:
        _fail(f"not approved: {description} ({decision.by}).", code=2)


def _model(run_dir: Path) -> Path:
    from trainer_agent.skills.export.variant import served_file

    model = served_file(run_dir / "exports")  # the int8 copy when the export kept it
    if not model.is_file():
        _fail(f"{model} does not exist: the run has no exported model yet.")
    return model


def examples_for(run_dir: Path, n: int = 64) -> list[Any]:
    """Inputs for load tests: the run's held-out rows, else the model's own example."""
    from trainer_agent.skills.serve.examples import example_inputs
    from trainer_agent.skills.specs import DataReport, TaskSpec

    state = _state(run_dir)
    parse, data = _step(state, "parse"), _step(state, "data")
    if parse and data:
        try:
            return example_inputs(TaskSpec.model_validate(parse), DataReport.model_validate(data), n=n)
        except (OSError, KeyError, ValueError):
            pass  # the data moved: fall back to the model's example
    from trainer_agent.skills.export.onnx_predict import OnnxPredictor

    example = OnnxPredictor(_model(run_dir)).meta.get("example")
    if example is None:
        _fail(f"no example inputs for {run_dir}: neither its test data nor its model has one.")
    return [example]


def serve(
    run_dir: RunDirArg,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: a free one).")] = None,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable whose value, if set, becomes the API key.")
    ] = "TRAINER_AGENT_API_KEY",
    as_json: JsonOpt = False,
    approve: ApproveOpt = None,
) -> None:
    """Start the run's model service in the background (stop it with `trainer-agent stop`).

    Listening on anything but the loopback address exposes the model to other machines: that is
    the `expose_service` approval, asked under --approve (default: the run's own policy)."""
    from trainer_agent.agents.run_lock import owner_lock
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.serve.deploy import start_service

    _state(run_dir)
    if host not in LOOPBACK:
        _approved(
            run_dir, approve, "expose_service", f"serve the model on {host}, reachable from other machines"
        )
    model = _model(run_dir)
    try:
        with owner_lock(run_dir, "serve", announce=_note):
            d = start_service(model, run_dir, port=port, host=host, api_key=os.environ.get(api_key_env))
    except UserError as err:
        _fail(str(err), err.exit_code)
    if as_json:
        sys.stdout.write(d.model_dump_json(indent=2) + "\n")
        return
    typer.echo(f"serving {d.url} (pid {d.pid}); docs {d.docs_url}; metrics {d.metrics_url}")
    typer.echo(f"stop it with: trainer-agent stop {run_dir}")


def status(run_dir: RunDirArg, as_json: JsonOpt = False) -> None:
    """Whether the run's service runs, and what /health and /ready say. Exit 0 running, 3 not."""
    from trainer_agent.agents.run_lock import current_owner
    from trainer_agent.skills.serve.deploy import service_status

    state = _state(run_dir)
    info = service_status(run_dir)
    info["owner"] = current_owner(run_dir)
    estimate = (_step(state, "serve") or {}).get("estimate")
    if isinstance(estimate, dict):
        info["estimate"] = estimate.get("summary")
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2, default=str) + "\n")
    elif info["running"]:
        typer.echo(
            f"running: {info['url']} (pid {info['pid']}); health {info.get('health')}, "
            f"ready {info.get('ready')}, peak memory {info.get('peak_rss_mb')} MiB"
        )
        if info.get("estimate"):
            typer.echo(f"estimate: {info['estimate']}")
    else:
        typer.echo(f"not running: {info.get('reason')}")
    if info["owner"] and not as_json:
        typer.echo(f"in use by pid {info['owner']['pid']} ({info['owner']['command']})")
    raise typer.Exit(0 if info["running"] else 3)


def package(
    run_dir: RunDirArg,
    tag: Annotated[
        str | None, typer.Option(help="Image tag (default: trainer-agent-service-<run>:<version>).")
    ] = None,
    base_image: Annotated[str, typer.Option(help="Base image with the project's packages.")] = (
        "trainer-agent-sandbox:latest"
    ),
    build: Annotated[
        bool, typer.Option("--build/--no-build", help="Build the image, or only write the Dockerfile.")
    ] = True,
    as_json: JsonOpt = False,
    approve: ApproveOpt = None,
) -> None:
    """Write service/Dockerfile for the run's model and build the service image (the `build_image`
    approval, asked under --approve; default: the run's own policy)."""
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.serve.package import build_image, write_dockerfile

    _state(run_dir)
    _model(run_dir)
    if build:
        _approved(run_dir, approve, "build_image", f"build a Docker image for {run_dir.name}'s service")
    try:
        if build:
            info = build_image(run_dir, tag=tag, base_image=base_image)
        else:
            dockerfile, default_tag = write_dockerfile(run_dir, base_image)
            info = {"dockerfile": str(dockerfile), "image": tag or default_tag, "built": False}
    except UserError as err:
        _fail(str(err))
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    typer.echo(f"Dockerfile: {info['dockerfile']}")
    if build:
        typer.echo(
            f"image: {info['image']} ({info['size_bytes'] / 1e9:.2f} GB, built in {info['build_s']:.1f} s)"
        )
        typer.echo(f"run it: docker run --rm -p 8000:8000 {info['image']}")


def loadtest(
    run_dir: RunDirArg,
    qps: Annotated[float, typer.Option(help="Requests per second to send.")] = 0.0,
    seconds: Annotated[float, typer.Option(help="How long to send them.")] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Load the run's running service at --qps (default: the estimate's planned rate per replica)
    for --seconds, open loop; report achieved QPS, p50/p95/p99, errors, and the estimate's error."""
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.serve.deploy import service_status
    from trainer_agent.skills.serve.loadtest import load_test
    from trainer_agent.skills.serve.sizing import estimate_error

    info = service_status(run_dir)
    if not info["running"]:
        _fail(f"no service is running for {run_dir}: start it with `trainer-agent serve {run_dir}`.")
    est = (_step(_state(run_dir), "serve") or {}).get("estimate") or {}
    rate = qps or est.get("planned_qps_per_replica") or 0.0
    if rate <= 0:
        _fail("give --qps: the run has no estimate to take a rate from.")
    api_key = os.environ.get("TRAINER_AGENT_API_KEY") if info.get("api_key") else None
    try:
        result = load_test(info["url"], examples_for(run_dir), rate, seconds, api_key=api_key)
    except UserError as err:
        _fail(str(err))
    if est and abs(rate - float(est.get("planned_qps_per_replica") or 0)) < 1e-9:
        result["estimate_error"] = estimate_error(est, result)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    typer.echo(
        f"offered {result['offered_qps']:g} QPS for {result['seconds']:g} s: "
        f"achieved {result['achieved_qps']:g} QPS, "
        f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, "
        f"{result['errors']} errors"
    )
    if "estimate_error" in result:
        typer.echo(f"estimate error: {result['estimate_error']}")


def register(app: typer.Typer) -> None:
    """Add the service commands to the main CLI app."""
    for fn in (serve, status, package, loadtest):
        app.command()(fn)
