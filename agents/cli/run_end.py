"""How a command that runs the agents ends: its exit codes, one sentence on stderr for a failure,
the run directory's owner lock, an orderly stop on a signal, a crash, and the finished report
printed with its exit code. Shared by `run`, `resume`, `demo` (agents.cli) and `chat`
(agents.cli.chat)."""

from __future__ import annotations

import contextlib
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from trainer_agent.agents.run_state import Run

EXIT_OK, EXIT_ERROR, EXIT_DECLINED, EXIT_UNMET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    console(stderr=True).print(f"note: {message}", markup=False)


def owned(run_dir: Path, command: str) -> Any:
    """The run directory's owner lock (`agents.run_lock`) as a context manager: while it is held no
    other trainer-agent process works on `run_dir`; a live owner is one sentence and exit 1."""
    from trainer_agent.agents.run_lock import owner_lock
    from trainer_agent.skills.errors import UserError

    stack = contextlib.ExitStack()
    try:
        stack.enter_context(owner_lock(run_dir, command, announce=note))
    except UserError as err:
        fail(str(err), err.exit_code)
    return stack


def interrupted(run: Run, signum: int, by: str | None = None, what: str = "interrupted") -> None:
    """The orderly stop: the job and the service go (a service a finished `--serve` step left on
    purpose stays), the run is recorded as interrupted and resumable, exit 128 + signum."""
    from trainer_agent.agents.interrupts import exit_code, signal_name
    from trainer_agent.agents.sandbox_jobs import close_sandbox
    from trainer_agent.skills.serve.deploy import stop_service

    name = signal_name(signum)
    close_sandbox(run)
    kept = run.options.serve and run.done("serve")
    service_stopped = False if kept else stop_service(run.run_dir)
    with contextlib.suppress(OSError):  # a full disk: the state keeps its last consistent version
        run.transcript.event("interrupted", signal=name, by=by or name, service_stopped=service_stopped)
    finish_run(run, "interrupted")
    fail(f"{what} ({name}); resume with: trainer-agent resume {run.run_dir}", exit_code(signum))


def finish_run(run: Run, status: str, **extra: Any) -> Exception | None:
    """Record how the run ended; a write that fails (a full disk) leaves state.json as it was and
    is returned, not raised, so the sentence about the first failure is the one printed."""
    from trainer_agent.skills.errors import UserError

    try:
        run.finish(status, **extra)
    except UserError as err:
        return err
    return None


def crashed(run: Run, err: Exception, debug: bool) -> None:
    """An exception out of the conversation itself: a full disk (or another UserError) is its one
    sentence; anything else an internal error, the traceback in the transcript (and with --debug)."""

    from trainer_agent.skills.errors import UserError, disk_full, is_disk_full

    failure = disk_full(run.run_dir) if is_disk_full(err) else err if isinstance(err, UserError) else None
    if failure is None and debug:
        raise err
    with contextlib.suppress(Exception):
        kind = "user" if failure else "internal"
        run.transcript.event("error", error=repr(err), error_kind=kind, trace=traceback.format_exc())
    finish_run(run, "failed", error=str(failure or repr(err)))
    if failure is not None:
        fail(str(failure), failure.exit_code)
    fail(f"internal error: {err!r} (details in {run.run_dir / 'transcript.jsonl'})")


def finished_report(run: Run, debug: bool) -> tuple[Any, int]:
    """After the conversation: fail in one sentence if a step failed or no report was written,
    else record the run as finished and return its RunReport and exit code."""
    from trainer_agent.skills.errors import DiskFull, UserError, disk_full, is_disk_full
    from trainer_agent.skills.specs import RunReport

    if run.fatal is not None:
        fatal = run.fatal
        if is_disk_full(fatal) and not isinstance(fatal, DiskFull):  # e.g. a job that could not write
            fatal = disk_full(run.run_dir)
        if debug and not isinstance(fatal, UserError):
            raise fatal
        finish_run(run, "failed", error=str(fatal))
        if isinstance(fatal, UserError):
            fail(str(fatal), fatal.exit_code)
        fail(f"internal error: {fatal!r} (details in {run.run_dir / 'transcript.jsonl'})")

    report_path = run.run_dir / "report.json"
    if not report_path.exists():
        finish_run(run, "failed", error="the conversation ended before the report was written")
        fail(f"the conversation ended before the report was written (see {run.run_dir / 'transcript.jsonl'})")
    report = RunReport.model_validate_json(report_path.read_text(encoding="utf-8"))
    code = EXIT_DECLINED if report.decision != "accept" else EXIT_OK if report.all_met else EXIT_UNMET
    if (failed := finish_run(run, "finished", exit_code=code)) is not None:
        fail(str(failed), getattr(failed, "exit_code", EXIT_ERROR))
    return report, code


def print_report(console: Any, report: Any) -> None:
    from rich.table import Table

    from trainer_agent.skills.report import fmt_value

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


def choose_brain(llm: str) -> Any:
    """Resolve --llm before the run starts: an unusable LLM is one sentence and exit 1."""
    from trainer_agent.agents.brains.llm_choice import choose
    from trainer_agent.skills.errors import UserError

    try:
        return choose(llm)
    except UserError as err:
        fail(str(err))
