"""`trainer-agent`: the command line.

Exit codes: 0 every requirement met; 3 finished but a requirement is unmet; 2 refused, infeasible
or needs input; 1 bad input or internal error (one sentence on stderr; a traceback only with
--debug); 128 + the signal's number when interrupted: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP
(resume with `trainer-agent resume RUN_DIR`).

Heavy modules (autogen, pandas, sklearn, onnxruntime) are imported inside the commands so that
`trainer-agent --help` answers at once.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trainer_agent.agents.cli.run_end import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_UNMET,
    choose_brain,
    console,
    crashed,
    fail,
    finished_report,
    interrupted,
    owned,
    print_report,
)
from trainer_agent.agents.cli.serve import register

if TYPE_CHECKING:
    from trainer_agent.agents.run_state import Run

app = typer.Typer(
    name="trainer-agent",
    help="Four AG2 agents turn a request, your data and requirements into a trained, checked, served model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


DataOpt = Annotated[Path | None, typer.Option("--data", help="Training data: CSV, TSV, JSONL or Parquet.")]
TestOpt = Annotated[
    Path | None, typer.Option("--test-data", help="Held-out test data; a split of --data when absent.")
]
LabelOpt = Annotated[str | None, typer.Option("--label", help="Label column (inferred when absent).")]
TextOpt = Annotated[
    str | None, typer.Option("--text", help="Text column for text tasks (inferred when absent).")
]
OutOpt = Annotated[Path, typer.Option("--out", help="Where run directories are created.")]
LlmOpt = Annotated[
    str,
    typer.Option(
        "--llm",
        help="Brain: auto (the configured LLM if it answers, else offline), offline (the deterministic "
        "planner), openai (OAI_CONFIG_LIST or OPENAI_API_KEY), or config:PATH (configs/llm.yaml form).",
    ),
]
MaxCostOpt = Annotated[
    float | None, typer.Option("--max-cost", min=0.0, help="LLM brains: stop once the calls cost this (USD).")
]
MaxCallsOpt = Annotated[
    int | None, typer.Option("--max-llm-calls", min=1, help="LLM brains: stop before call N+1.")
]
MaxMinutesOpt = Annotated[
    float | None,
    typer.Option(
        "--max-minutes",
        min=0.1,
        help="Wall-clock budget of the run: LLM brains stop there (default 120); training that would "
        "go past it asks the over_budget approval.",
    ),
]
ApproveOpt = Annotated[
    str,
    typer.Option(
        "--approve", help="Risky steps: auto, ask, never, policy, or a policy file (rules per step kind)."
    ),
]
ServeOpt = Annotated[
    bool,
    typer.Option("--serve/--no-serve", help="Leave the service running after the run (stop it with `stop`)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only the RunReport JSON on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
SandboxOpt = Annotated[
    str, typer.Option("--sandbox", help="Where training and export jobs run: auto, docker or local.")
]
GpusOpt = Annotated[
    str | None, typer.Option("--gpus", help="GPUs for sandbox jobs: all, none or a count (default: config).")
]


def _execute(run: Run, as_json: bool, debug: bool, brain_line: str = "") -> None:
    """Run the conversation, then turn its outcome into output and an exit code."""
    from rich.markup import escape

    from trainer_agent.agents.chat import run_conversation
    from trainer_agent.agents.reused_run import take_reused_steps

    screen = console()
    if not as_json:
        screen.print(f"[dim]run {run.run_id} in {run.run_dir}[/]")
        screen.print(f"[dim]brain: {escape(brain_line or str(run.state.get('brain', run.options.llm)))}[/]")
    from trainer_agent.agents.sandbox_jobs import close_sandbox

    if not as_json:
        run.log = lambda line: screen.print(f"[dim]{escape(line)}[/]")
    from trainer_agent.agents.interrupts import signal_of, stop_on_signals
    from trainer_agent.agents.terminal import renderer

    with stop_on_signals() as caught:  # SIGTERM and SIGHUP take Ctrl-C's path
        try:
            try:
                if not take_reused_steps(run):  # --reuse: every step reused, no agents needed
                    run_conversation(run, render=None if as_json else renderer(screen))
                caught.check()
            finally:
                close_sandbox(run)
            report, code = finished_report(run, debug)
        except KeyboardInterrupt as err:
            interrupted(run, signal_of(err))
        except typer.Exit:
            raise
        except Exception as err:  # out of the conversation itself (a step's own error is run.fatal)
            crashed(run, err, debug)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        print_report(screen, report)
    raise typer.Exit(code)


@app.command()
def run(
    request: Annotated[
        str, typer.Argument(help="What the model must do, and the requirements, in plain words.")
    ],
    data: DataOpt = None,
    test_data: TestOpt = None,
    unlabelled: Annotated[
        Path | None,
        typer.Option(
            "--unlabelled",
            help="Rows without labels (same input columns): a teacher labels them when a small "
            "model is distilled; rows without a label in --data join them.",
        ),
    ] = None,
    label: LabelOpt = None,
    text: TextOpt = None,
    out: OutOpt = Path("runs"),
    llm: LlmOpt = "auto",
    approve: ApproveOpt = "auto",
    serve: ServeOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
    seed: Annotated[int, typer.Option(help="Random seed for splits and training.")] = 0,
    sandbox: SandboxOpt = "auto",
    gpus: GpusOpt = None,
    max_cost: MaxCostOpt = None,
    max_llm_calls: MaxCallsOpt = None,
    max_minutes: MaxMinutesOpt = None,
    budget_min: Annotated[
        float | None,
        typer.Option(
            "--budget-min",
            min=0.1,
            help="Minutes for choosing and tuning models over every exportable family (default: a "
            "budget sized to the data, over the default families; the plan states it).",
        ),
    ] = None,
    max_trials: Annotated[
        int | None,
        typer.Option(
            "--max-trials",
            min=1,
            help="Instead of minutes: at most N tuning trials per study, no wall-clock cut, so the "
            "same --seed gives the same model on any load.",
        ),
    ] = None,
    max_epochs: Annotated[
        int | None,
        typer.Option(
            "--max-epochs",
            min=1,
            help="Instead of minutes: at most N epochs per net, no wall-clock cut (alone or with "
            "--max-trials).",
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            "--model-dir", help="A saved transformers model to start from, or hub:NAME to download one."
        ),
    ] = None,
    reuse: Annotated[
        bool, typer.Option("--reuse/--no-reuse", help="Reuse a library model that meets the request.")
    ] = False,
    warm_start: Annotated[
        bool,
        typer.Option(
            "--warm-start/--no-warm-start",
            help="Start from the closest library model (same task and labels): its family first, "
            "its settings narrow the search.",
        ),
    ] = True,
) -> None:
    """Train, check, export and serve a model for REQUEST on your data."""
    from trainer_agent.agents.run_state import Run, RunOptions

    if sandbox not in ("auto", "docker", "local"):
        fail(f"--sandbox must be auto, docker or local, not {sandbox!r}.")
    from trainer_agent.agents.approvals import check_policy
    from trainer_agent.skills.errors import UserError

    try:
        approve = check_policy(approve)
    except UserError as err:
        fail(str(err))
    if not request.strip():
        fail("the request is empty; say what the model must do.")
    paths = (
        ("--data", data),
        ("--test-data", test_data),
        ("--unlabelled", unlabelled),
        ("--model-dir", model_dir),
    )
    for flag, given in paths:
        if given is not None and not str(given).startswith("hub:") and not given.exists():
            fail(f"the {flag} path '{given}' does not exist.")
    if budget_min is not None and (max_trials is not None or max_epochs is not None):
        fail("give either --budget-min (wall clock) or --max-trials/--max-epochs (counts), not both.")
    choice = choose_brain(llm)
    options = RunOptions(
        request=request.strip(),
        data=str(data) if data else None,
        test_data=str(test_data) if test_data else None,
        unlabelled=str(unlabelled) if unlabelled else None,
        label=label,
        text=text,
        llm=choice.spec,
        approve=approve,
        serve=serve,
        seed=seed,
        sandbox=sandbox,
        gpus=gpus,
        max_cost=max_cost,
        max_llm_calls=max_llm_calls,
        max_seconds=max_minutes * 60 if max_minutes else None,
        budget_min=budget_min,
        max_trials=max_trials,
        max_epochs=max_epochs,
        model_dir=str(model_dir) if model_dir else None,
        reuse=reuse,
        warm_start=warm_start,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"cannot create the output folder '{out}': {err.strerror}.")
    try:
        created = Run.create(out, options)
    except UserError as err:  # a full disk or an unwritable --out
        fail(str(err), err.exit_code)
    with owned(created.run_dir, "run"):
        _execute(created, as_json, debug, choice.line)


def demo_inputs() -> tuple[str, Path, Path]:
    """The bundled demo: request text and the fine_foods train/test files (package data)."""
    root = resources.files("trainer_agent.configs.demo")
    request = root.joinpath("request.txt").read_text(encoding="utf-8").strip()
    data_dir = Path(str(root.joinpath("fine_foods")))
    return request, data_dir / "train.csv", data_dir / "test.csv"


@app.command()
def demo(
    out: OutOpt = Path("runs"),
    serve: ServeOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
    sandbox: SandboxOpt = "auto",
) -> None:
    """Run the bundled fine-food reviews request end to end, offline."""
    request, train, test = demo_inputs()
    run(
        request,
        data=train,
        test_data=test,
        label="score",
        text="review",
        out=out,
        llm="offline",
        serve=serve,
        sandbox=sandbox,
        as_json=as_json,
        debug=debug,
    )


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory (runs/<id>).")],
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
    max_cost: MaxCostOpt = None,
    max_llm_calls: MaxCallsOpt = None,
) -> None:
    """Continue an interrupted run from its last finished step (with a new LLM budget if given)."""
    from trainer_agent.agents.run_state import Run
    from trainer_agent.skills.errors import UserError

    try:
        Run.load(run_dir)  # a run directory at all, before its lock is taken
    except UserError as err:
        fail(str(err))
    with owned(run_dir, "resume"):
        try:
            existing = Run.load(run_dir)  # read again: the state as its last owner left it
        except UserError as err:
            fail(str(err))
        existing.state["status"] = "running"
        existing.transcript.event("resumed")
        if not existing.done("serve"):  # a service the interrupted run left behind
            from trainer_agent.skills.serve.deploy import stop_service

            if stop_service(run_dir):
                existing.transcript.event("service_reaped", reason="left running by the interrupted run")
        if max_cost is not None:
            existing.options.max_cost = existing.state["options"]["max_cost"] = max_cost
        if max_llm_calls is not None:
            existing.options.max_llm_calls = existing.state["options"]["max_llm_calls"] = max_llm_calls
        choice = choose_brain(existing.options.llm)
        _execute(existing, as_json, debug, choice.line)


@app.command()
def replay(
    paths: Annotated[list[Path], typer.Argument(help="Run directories or transcript.jsonl files.")],
    no_exec: Annotated[
        bool,
        typer.Option(
            "--no-exec", help="Answer tool calls from the recorded results instead of running them."
        ),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Where the replays' run directories go.")] = Path(
        "runs/replays"
    ),
    tolerance: Annotated[
        float, typer.Option(help="Largest metric difference that still counts as the same.")
    ] = 1e-6,
    as_json: JsonOpt = False,
) -> None:
    """Re-run recorded conversations with their recorded agent outputs; compare (exit 3 if any diverged)."""

    from rich.table import Table

    from trainer_agent.agents.replay import replay_one
    from trainer_agent.skills.errors import UserError

    results = []
    for path in paths:
        try:
            results.append(replay_one(path, out, execute=not no_exec, tolerance=tolerance))
        except UserError as err:
            fail(str(err))
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    else:
        table = Table(title=f"Replay ({'recorded tool results' if no_exec else 'tools re-executed'})")
        for col in ("conversation", "steps", "status"):
            table.add_column(col)
        for r in results:
            status = (
                "[green]identical[/]"
                if r.status == "identical"
                else f"[red]diverged at step {r.step}[/]: {r.difference}"
            )
            table.add_row(r.source, str(r.steps), status)
        console().print(table)
    raise typer.Exit(EXIT_UNMET if any(r.status != "identical" for r in results) else EXIT_OK)


sandbox_app = typer.Typer(help="The sandbox where training and export jobs run.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("check")
def sandbox_check(as_json: JsonOpt = False) -> None:
    """Report the Docker engine, the sandbox image, container runtimes and GPUs."""

    from trainer_agent.sandbox.select import check

    report = check()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
        return
    screen = console()
    for key, value in report.items():
        screen.print(f"{key}: {value}", markup=False)


@sandbox_app.command("build")
def sandbox_build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the image is current.")] = False,
) -> None:
    """Build the sandbox image offline from registries (debootstrap base + a local wheelhouse)."""
    from trainer_agent.sandbox.image import main as image_main

    args = ["build", *(["--force"] if force else [])]
    raise typer.Exit(image_main(args))


from trainer_agent.agents.cli import check  # noqa: E402  (light: typer only; the judgement is imported when run)

app.command("check")(check.check_command)

from trainer_agent.agents.cli import data  # noqa: E402  (light: typer only; the skills are imported when run)

app.add_typer(data.app, name="data")

from trainer_agent.agents.cli import models  # noqa: E402  (light: typer only; the library is imported when run)

app.add_typer(models.app, name="models")

from trainer_agent.agents.cli import chat  # noqa: E402  (light: typer only; the chat is imported when run)

app.command("chat")(chat.chat_command)


@app.command()
def stop(run_dir: Annotated[Path, typer.Argument(help="The run directory whose service to stop.")]) -> None:
    """Stop the service a run left running (`run --serve`)."""
    from trainer_agent.skills.serve.deploy import stop_service

    if (run_dir / "state.json").is_file():
        with owned(run_dir, "stop"):
            stopped = stop_service(run_dir)
    else:
        stopped = stop_service(run_dir)
    console().print("service stopped" if stopped else "no service was running for this run")


def _register_service_commands() -> None:

    register(app)


_register_service_commands()


def main() -> None:
    try:
        app()
    except Exception as err:  # the last line: a person sees one sentence, a traceback only with --debug
        if "--debug" in sys.argv:
            raise
        from trainer_agent.skills.errors import UserError, is_disk_full, write_error

        if isinstance(err, OSError) and is_disk_full(err):
            err = write_error(err, err.filename or Path.cwd())
        from rich.markup import escape

        message = str(err) if isinstance(err, UserError) else f"internal error: {err!r}"
        console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", markup=True)
        sys.exit(getattr(err, "exit_code", EXIT_ERROR))


if __name__ == "__main__":
    main()
