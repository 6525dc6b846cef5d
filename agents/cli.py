"""`trainer-agent`: the command line.

Exit codes: 0 every requirement met; 3 finished but a requirement is unmet; 2 refused, infeasible
or needs input; 1 bad input or internal error (one sentence on stderr; a traceback only with
--debug); 130 interrupted (resume with `trainer-agent resume RUN_DIR`).

Heavy modules (autogen, pandas, sklearn, onnxruntime) are imported inside the commands so that
`trainer-agent --help` answers at once.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from agents.run_state import Run

app = typer.Typer(
    name="trainer-agent",
    help="Four AG2 agents turn a request, your data and requirements into a trained, checked, served model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_ERROR, EXIT_DECLINED, EXIT_UNMET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SPEAKER_STYLE = {
    "user": "bold white",
    "task_agent": "bold magenta",
    "data_agent": "bold cyan",
    "model_agent": "bold green",
    "server_agent": "bold yellow",
}

DataOpt = Annotated[Path | None, typer.Option("--data", help="Training data: CSV, TSV, JSONL or Parquet.")]
TestOpt = Annotated[
    Path | None, typer.Option("--test-data", help="Held-out test data; a split of --data when absent.")
]
LabelOpt = Annotated[str | None, typer.Option("--label", help="Label column (inferred when absent).")]
TextOpt = Annotated[
    str | None, typer.Option("--text", help="Text column for text tasks (inferred when absent).")
]
OutOpt = Annotated[Path, typer.Option("--out", help="Where run directories are created.")]
LlmOpt = Annotated[str, typer.Option("--llm", help="Brain: 'offline' (the deterministic planner) or 'auto'.")]
ApproveOpt = Annotated[str, typer.Option("--approve", help="Approval of risky steps: auto or ask.")]
ServeOpt = Annotated[
    bool,
    typer.Option("--serve/--no-serve", help="Leave the service running after the run (stop it with `stop`)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only the RunReport JSON on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def _renderer(console: Any) -> Any:
    import re

    from rich.markup import escape

    json_block = re.compile(r"```json.*?```", re.DOTALL)

    def render(speaker: str, message: dict[str, Any]) -> None:
        style = SPEAKER_STYLE.get(speaker, "bold")
        who = f"[{style}]{speaker}[/]"
        if message.get("tool_calls"):
            for call in message["tool_calls"]:
                console.print(f"{who} [dim]calls[/] {call['function']['name']}()")
            return
        if message.get("tool_responses"):
            for resp in message["tool_responses"]:
                text = str(resp.get("content", ""))
                short = text if len(text) <= 160 else text[:157] + "..."
                console.print(f"  [dim]↳ {escape(short)}[/]")
            return
        content = json_block.sub("[spec JSON: see transcript.jsonl]", str(message.get("content") or ""))
        console.print(f"{who}: {escape(content.strip())}")

    return render


def _execute(run: Run, as_json: bool, debug: bool) -> None:
    """Run the conversation, then turn its outcome into output and an exit code."""
    from agents.chat import run_conversation
    from skills.errors import UserError
    from skills.specs import RunReport

    console = _console()
    if not as_json:
        console.print(f"[dim]run {run.run_id} in {run.run_dir}[/]")
        console.print("[dim]brain: offline planner (deterministic; no LLM configured)[/]")
    try:
        run_conversation(run, render=None if as_json else _renderer(console))
    except KeyboardInterrupt:
        run.finish("interrupted")
        _fail(f"interrupted; resume with: trainer-agent resume {run.run_dir}", EXIT_INTERRUPTED)

    if run.fatal is not None:
        fatal = run.fatal
        if debug and not isinstance(fatal, UserError):
            raise fatal
        run.finish("failed", error=str(fatal))
        if isinstance(fatal, UserError):
            _fail(str(fatal), fatal.exit_code)
        _fail(f"internal error: {fatal!r} (details in {run.run_dir / 'transcript.jsonl'})")

    report_path = run.run_dir / "report.json"
    if not report_path.exists():
        run.finish("failed", error="the conversation ended before the report was written")
        _fail(
            f"the conversation ended before the report was written (see {run.run_dir / 'transcript.jsonl'})"
        )
    report = RunReport.model_validate_json(report_path.read_text(encoding="utf-8"))
    code = EXIT_DECLINED if report.decision != "accept" else EXIT_OK if report.all_met else EXIT_UNMET
    run.finish("finished", exit_code=code)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        _print_report(console, report)
    raise typer.Exit(code)


def _print_report(console: Any, report: Any) -> None:
    from rich.table import Table

    from skills.report import fmt_value

    console.print()
    if report.decision != "accept":
        console.print(f"[bold]Decision: {report.decision}[/]")
        for reason in report.reasons:
            console.print(f"  - {reason}")
        for question in report.questions:
            console.print(f"  ? {question}")
    else:
        table = Table(title="Requirements", title_justify="left")
        for col in ("requirement", "target", "achieved", "met"):
            table.add_column(col)
        for r in report.requirements:
            achieved = fmt_value(r.achieved)
            met = (
                "[green]yes[/]"
                if r.met
                else "[yellow]not measured[/]"
                if r.met is None
                else f"[red]NO[/] {r.note}"
            )
            table.add_row(r.name, f"{r.op} {fmt_value(r.target)}", achieved, met)
        console.print(table)
        if report.model:
            console.print(
                f"model: {report.model.family}, {report.model.params:,} parameters, "
                f"{report.model.size_bytes / 1e6:.2f} MB ONNX"
            )
        if report.service:
            state = "running" if report.service.get("running") else "stopped"
            console.print(f"service: {report.service['url']} ({state}); docs {report.service['docs_url']}")
    console.print(f"report: {Path(report.run_dir) / 'report.md'}")


@app.command()
def run(
    request: Annotated[
        str, typer.Argument(help="What the model must do, and the requirements, in plain words.")
    ],
    data: DataOpt = None,
    test_data: TestOpt = None,
    label: LabelOpt = None,
    text: TextOpt = None,
    out: OutOpt = Path("runs"),
    llm: LlmOpt = "auto",
    approve: ApproveOpt = "auto",
    serve: ServeOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
    seed: Annotated[int, typer.Option(help="Random seed for splits and training.")] = 0,
) -> None:
    """Train, check, export and serve a model for REQUEST on your data."""
    from agents.run_state import Run, RunOptions

    if llm not in ("auto", "offline"):
        _fail(f"--llm {llm!r} is not available in this version; use 'offline' or 'auto'.")
    if approve not in ("auto", "ask"):
        _fail(f"--approve must be 'auto' or 'ask', not {approve!r}.")
    if not request.strip():
        _fail("the request is empty; say what the model must do.")
    options = RunOptions(
        request=request.strip(),
        data=str(data) if data else None,
        test_data=str(test_data) if test_data else None,
        label=label,
        text=text,
        llm="offline",
        approve=approve,
        serve=serve,
        seed=seed,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _fail(f"cannot create the output folder '{out}': {err.strerror}.")
    _execute(Run.create(out, options), as_json, debug)


def demo_inputs() -> tuple[str, Path, Path]:
    """The bundled demo: request text and the fine_foods train/test files (package data)."""
    root = resources.files("configs.demo")
    request = root.joinpath("request.txt").read_text(encoding="utf-8").strip()
    data_dir = Path(str(root.joinpath("fine_foods")))
    return request, data_dir / "train.csv", data_dir / "test.csv"


@app.command()
def demo(
    out: OutOpt = Path("runs"),
    serve: ServeOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
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
        as_json=as_json,
        debug=debug,
    )


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory (runs/<id>).")],
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Continue an interrupted run from its last finished step."""
    from agents.run_state import Run
    from skills.errors import UserError

    try:
        existing = Run.load(run_dir)
    except UserError as err:
        _fail(str(err))
    existing.state["status"] = "running"
    existing.transcript.event("resumed")
    _execute(existing, as_json, debug)


@app.command()
def stop(run_dir: Annotated[Path, typer.Argument(help="The run directory whose service to stop.")]) -> None:
    """Stop the service a run left running (`run --serve`)."""
    from skills.deploy import stop_service

    stopped = stop_service(run_dir)
    _console().print("service stopped" if stopped else "no service was running for this run")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
