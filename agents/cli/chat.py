"""`trainer-agent chat [--data PATH] [--test-data PATH] [--label COL] [--text COL] [--approve POLICY]`.

The person types a request in plain words and the agents work on it in the group chat, which is
drawn live (`agents.terminal`). The person is in the chat as the `user` proxy: the Task agent
asks them for what is missing, shows the plan for approval before any work, and after the report
asks whether anything should change; risky steps are approved under `--approve` (default `ask`).
Ctrl-C asks whether to stop; a stopped run resumes with `trainer-agent resume RUN_DIR`.

Design: the person speaks *inside* the AG2 conversation (a reply function on the `user` proxy,
`agents.person`) rather than in a loop around it, so questions, answers, changes and approvals
are ordinary turns of one conversation, recorded in one transcript, and routed by the same
function as every other turn.

Exit codes as for `run`: 0 met, 3 unmet, 2 declined or questions left open, 1 error, 130 stopped
(Ctrl-C; 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from trainer_agent.agents.cli import run_end
from trainer_agent.agents.cli.run_end import EXIT_INTERRUPTED, EXIT_OK

WELCOME = (
    "Describe the model you need in plain words, with any requirements (for example: 'tell whether a "
    "review is great, accuracy >= 0.8, under 5M parameters'). Ctrl-C asks whether to stop; 'quit' leaves."
)


def chat_command(
    data: Annotated[
        Path | None, typer.Option("--data", help="Training data: CSV, TSV, JSONL or Parquet.")
    ] = None,
    test_data: Annotated[
        Path | None, typer.Option("--test-data", help="Held-out test data; a split of --data when absent.")
    ] = None,
    unlabelled: Annotated[
        Path | None,
        typer.Option("--unlabelled", help="Rows without labels: a teacher's pool when a model is distilled."),
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Label column (inferred when absent).")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Text column (inferred when absent).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where run directories are created.")] = Path("runs"),
    llm: Annotated[str, typer.Option("--llm", help="Brain: auto, offline, openai or config:PATH.")] = "auto",
    approve: Annotated[
        str,
        typer.Option(
            "--approve",
            help="Risky steps: ask (default), auto, never, policy, or a policy file (approvals:).",
        ),
    ] = "ask",
    sandbox: Annotated[
        str, typer.Option("--sandbox", help="Where training and export jobs run: auto, docker or local.")
    ] = "auto",
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Leave the service running after the run.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed for splits and training.")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
) -> None:
    """Talk with the agents: type a request, answer their questions, approve the plan and risky steps."""
    from trainer_agent.agents.approvals import check_policy
    from trainer_agent.agents.run_state import Run, RunOptions
    from trainer_agent.agents.terminal import Terminal
    from trainer_agent.skills.errors import UserError

    if sandbox not in ("auto", "docker", "local"):
        run_end.fail(f"--sandbox must be auto, docker or local, not {sandbox!r}.")
    try:
        approve = check_policy(approve)
    except UserError as err:
        run_end.fail(str(err))
    for given in (data, test_data, unlabelled):
        if given is not None and not given.exists():
            run_end.fail(f"the data file '{given}' does not exist.")
    choice = run_end.choose_brain(llm)
    terminal = Terminal()
    terminal.console.print(f"[bold]trainer-agent chat[/] [dim](brain: {choice.line})[/]", markup=True)
    terminal.console.print(WELCOME, markup=False)
    with terminal.catch_interrupts():
        request = _read_request(terminal)
        options = RunOptions(
            request=request,
            data=str(data.resolve()) if data else None,
            test_data=str(test_data.resolve()) if test_data else None,
            unlabelled=str(unlabelled.resolve()) if unlabelled else None,
            label=label,
            text=text,
            llm=choice.spec,
            approve=approve,
            serve=serve,
            seed=seed,
            sandbox=sandbox,
        )
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            run_end.fail(f"cannot create the output folder '{out}': {err.strerror}.")
        try:
            run = Run.create(out, options)
            run.state["chat"] = {"terminal": True}
            run.save()
        except UserError as err:  # a full disk or an unwritable --out
            run_end.fail(str(err), err.exit_code)
        terminal.console.print(f"[dim]run {run.run_id} in {run.run_dir}[/]", markup=True)
        with run_end.owned(run.run_dir, "chat"):
            _converse(run, terminal, debug)


def _read_request(terminal: Any) -> str:
    try:
        while True:
            request = terminal.prompt("you> ").strip()
            if request.lower() in ("quit", "exit", "q"):
                raise typer.Exit(EXIT_OK)
            if request:
                return str(request)
    except (KeyboardInterrupt, EOFError):
        terminal.console.print("\nnothing was started.", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _converse(run: Any, terminal: Any, debug: bool) -> None:
    """Run the conversation with the person attached; turn its outcome into output and an exit code."""

    from trainer_agent.agents.approvals import attached
    from trainer_agent.agents.chat import run_conversation
    from trainer_agent.agents.interrupts import signal_of, stop_on_signals
    from trainer_agent.agents.sandbox_jobs import close_sandbox

    terminal.bind(run)
    run.log = terminal.log
    # Ctrl-C is the terminal's (it asks first); SIGTERM and SIGHUP stop at once, the same way.
    with stop_on_signals((signal.SIGTERM, signal.SIGHUP)) as caught:
        try:
            try:
                with attached(run, terminal):
                    run_conversation(run, render=terminal.render)
                caught.check()
                if terminal.stop_requested:  # a yes to "Stop the run?" whose interrupt Python dropped
                    raise KeyboardInterrupt
            finally:
                terminal.stop_progress()
                close_sandbox(run)
        except KeyboardInterrupt as err:
            signum = signal_of(err)
            by = "person at the terminal (Ctrl-C)" if signum == signal.SIGINT else None
            run_end.interrupted(run, signum, by=by, what="stopped")
        except typer.Exit:
            raise
        except Exception as err:  # out of the conversation itself: a full disk, or a bug
            run_end.crashed(run, err, debug)

    if run.fatal is None and run.state.get("chat", {}).get("stopped"):
        run_end.finish_run(run, "interrupted")
        run_end.fail(f"stopped; resume with: trainer-agent resume {run.run_dir}", EXIT_INTERRUPTED)
    report, code = run_end.finished_report(run, debug)
    run_end.print_report(terminal.console, report)
    raise typer.Exit(code)
