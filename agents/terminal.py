"""The chat on a terminal (rich): speakers' names in colour, tool calls and results in one line each
(the full records are in transcript.jsonl), a progress bar while a step runs, and the person's input.

`renderer(console)` draws the group chat for `run` and `chat`. `Terminal` is the person's side of
`chat`: it renders, shows progress against the plan's estimate for the step (or the epochs and
trials a job reports), asks the person (`prompt`, the `approvals.Person` protocol), and turns
Ctrl-C into a question: stop (the run stays resumable), go on, or type a message for the Task
agent. Plain terminals and tmux both work: the only input is line-by-line `input()`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar

from trainer_agent.skills.pipeline import step_for_tool

SPEAKER_STYLE = {
    "user": "bold white",
    "task_agent": "bold magenta",
    "data_agent": "bold cyan",
    "model_agent": "bold green",
    "server_agent": "bold yellow",
}
_JSON_BLOCK = re.compile(r"```json.*?```", re.DOTALL)
_COUNT = re.compile(r"\b(epoch|trial|fold|round|step|batch)\s*(\d+)\s*(?:/|of)\s*(\d+)", re.IGNORECASE)
STOP_QUESTION = "Stop the run? It stays resumable. [y/N, or type a message for the Task agent]: "


def result_line(text: str) -> str:
    """One line for a tool's JSON result: what a person needs to follow the chat."""
    if text.startswith("Error:"):
        return text
    try:
        r = json.loads(text)
    except ValueError:
        return text if len(text) <= 160 else text[:157] + "..."
    if not isinstance(r, dict):
        return text[:160]
    if "task_type" in r and "decision" in r:
        cols = f"label '{r['label_column']}'" if r.get("label_column") else "no label column yet"
        cols += f", text '{r['text_column']}'" if r.get("text_column") else ""
        reqs = len(r.get("requirements", []))
        return f"{r['task_type'].replace('_', ' ')}, {cols}, {reqs} requirement(s): decision {r['decision']}"
    if "train_path" in r:
        fix = r.get("label_fix") or {}
        relabel = (
            f"; relabelling {fix.get('proposed')} rows {fix.get('decision')} "
            f"({fix.get('without', 0):.4f} -> {fix.get('with_corrections', 0):.4f} on your labels)"
            if fix
            else ""
        )
        catalog = "".join(
            f"; catalog '{t.get('name')}' {t.get('decision')} ({t.get('without', 0):.4f} -> "
            f"{t.get('with_catalog', 0):.4f} on your rows)"
            for t in r.get("catalog") or []
            if t.get("decision") != "not tried"
        )
        added = f" ({r['catalog_rows']:,} from the catalog)" if r.get("catalog_rows") else ""
        rows = f"{r.get('n_train', 0):,} training rows{added}, {r.get('n_test', 0):,} test rows"
        return f"{rows}{relabel}{catalog}; data card written"
    if "family" in r and "params" in r:
        metrics = {k: v for k, v in r.get("metrics", {}).items() if "[" not in k}
        main = next(iter(metrics.items()), None)
        shown = f", held-out {main[0]} {main[1]:.4f}" if main else ""
        return f"{r['family']}, {r['params']:,} parameters{shown}"
    if "onnx_path" in r:
        agree = (r.get("parity") or {}).get("label_agreement")
        parity = f", parity {agree:.1%}" if isinstance(agree, (int, float)) else ""
        q = r.get("quantization") or {}
        int8 = f"; serves the int8 copy ({q.get('size_bytes', {}).get('int8', 0) / 1e6:.2f} MB)"
        status = {"off": "not tried"}.get(q.get("status", ""), q.get("status", ""))
        served = int8 if r.get("served") == "int8" else f"; int8 {status}" if status else ""
        return f"ONNX {r.get('size_bytes', 0) / 1e6:.2f} MB{parity}{served}"
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    if "url" in r:
        return f"service at {r['url']} ({'running' if r.get('running') else 'stopped after the checks'})"
    if "report" in r and "decision" in r:
        return f"decision {r['decision']}, all requirements met: {r.get('all_met')}; {r['report']}"
    return text if len(text) <= 160 else text[:157] + "..."


def call_line(name: str, arguments: Any, width: int = 60) -> str:
    """`tool(arg=value, ...)` with the arguments a brain chose (those left null are defaults),
    each value cut to `width` characters."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
    except ValueError:
        args = {"arguments": arguments}
    if not isinstance(args, dict):
        args = {"arguments": args}
    shown = []
    for key, value in args.items():
        if value is None or value == "":
            continue
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
        shown.append(f"{key}={text if len(text) <= width else text[: width - 3] + '...'}")
    return f"{name}({', '.join(shown)})"


def renderer(console: Any) -> Callable[[str, dict[str, Any]], None]:
    """Draw each group-chat message: `speaker: text`, `speaker calls tool()`, `  ↳ result`."""

    def render(speaker: str, message: dict[str, Any]) -> None:
        who = f"[{SPEAKER_STYLE.get(speaker, 'bold')}]{speaker}[/]"
        content = message.get("content")
        text = "" if content in (None, "None") else str(content)
        text = _JSON_BLOCK.sub("[spec JSON: see transcript.jsonl]", text).strip()
        if message.get("tool_responses"):
            for resp in message["tool_responses"]:
                line = result_line(str(resp.get("content", "")))
                style = "red" if line.startswith("Error:") else "dim"
                console.print(f"  [{style}]↳ {escape(line)}[/]")
            return
        if text:
            console.print(f"{who}: {escape(text)}")
        for call in message.get("tool_calls") or []:
            line = call_line(call["function"]["name"], call["function"].get("arguments"))
            console.print(f"{who} [dim]calls[/] {escape(line)}")

    return render


class EtaBar(ProgressColumn):
    """A bar that fills with elapsed time against the step's estimate, or with counted epochs/trials."""

    def render(self, task: Task) -> ProgressBar:
        if task.fields.get("counted"):
            total, done = task.total, task.completed
        else:  # past the estimate the bar only pulses: the step is running late, not nearly done
            elapsed, total = task.elapsed or 0.0, task.fields.get("eta") or None
            total = total if total and elapsed < total else None
            done = elapsed if total else 0.0
        return ProgressBar(
            total=total, completed=done, width=30, pulse=total is None, animation_time=task.get_time()
        )


class Terminal:
    """The person's terminal in `trainer-agent chat` (an `approvals.Person`)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self._render = renderer(self.console)
        self.pending: list[str] = []  # typed after Ctrl-C; the Task agent reads it at its next turn
        self.run: Any = None
        self._progress: Any = None
        self._task: Any = None
        self._prompting = False  # the main thread waits for a line
        self._asking = False  # a helper thread asks "Stop the run?" while the agents work on
        self._stop_now = False  # the person said yes to "Stop the run?"
        self._raised = False  # the KeyboardInterrupt of that stop has been raised
        self._active = False
        self._idle = threading.Event()  # cleared while the helper thread asks
        self._idle.set()
        self._held: list[str] = []  # job output that arrived while the person was typing
        self._typed: str | None = None
        self._lock = threading.RLock()

    # -- the chat --------------------------------------------------------------------------------
    def bind(self, run: Any) -> None:
        """The run whose plan estimates each step's time, for the progress bars."""
        self.run = run

    def render(self, speaker: str, message: dict[str, Any]) -> None:
        self._wait_idle()  # the chat waits at its next message while the person answers "Stop?"
        self._stop_if_asked()
        content = message.get("content")
        if speaker == "user" and not message.get("tool_responses") and self._typed is not None:
            typed, self._typed = self._typed, None
            if str(content or "").strip() == typed:
                return  # the person's own words are on the screen already
        if message.get("tool_responses"):
            self.stop_progress()
        self._render(speaker, message)
        calls = message.get("tool_calls") or []
        if calls:
            self._start_progress(speaker, calls[0]["function"]["name"])

    def log(self, line: str) -> None:
        """A line of a job's output (called from the job's reader thread)."""
        with self._lock:
            if self._prompting or self._asking:
                self._held.append(line)
                return
            self.console.print(f"[dim]{escape(line)}[/]")
            if (found := _COUNT.search(line)) and self._progress is not None and self._task is not None:
                what, done, total = found.group(1).lower(), int(found.group(2)), int(found.group(3))
                self._progress.update(
                    self._task,
                    total=max(total, 1),
                    completed=done,
                    counted=True,
                    note=f"{what} {done}/{total}",
                )

    def say(self, text: str) -> None:
        """Tell the person something (a question follows): the progress bar steps aside until then."""
        self._wait_idle()
        self._stop_if_asked()
        self._pause()
        with self._lock:
            self.console.print(f"[bold]{escape(text)}[/]")

    # -- input -----------------------------------------------------------------------------------
    def prompt(self, question: str) -> str:
        """A line from the person. Ctrl-C here asks whether to stop (yes: KeyboardInterrupt)."""
        self._wait_idle()
        self._stop_if_asked()
        self._pause()
        self._prompting = True
        try:
            while True:
                try:
                    typed = input(question)
                except KeyboardInterrupt:
                    print()
                    if self.confirm_stop():
                        self._stop_now = self._raised = True
                        raise
                    continue
                self._typed = typed.strip()
                return typed
        finally:
            self._prompting = False
            self._resume()

    def confirm_stop(self) -> bool:
        """Ask whether to stop; text other than yes/no is kept for the Task agent."""
        try:
            answer = input(STOP_QUESTION).strip()
        except EOFError:
            return True
        if answer.lower() in ("y", "yes", "stop", "quit", "q"):
            return True
        if answer and answer.lower() not in ("n", "no"):
            self.pending.append(answer)
            self.say("Noted: the Task agent reads it when the current step ends.")
        return False

    @contextmanager
    def catch_interrupts(self) -> Iterator[None]:
        """Ctrl-C while the agents work asks whether to stop, and the work goes on while it asks.

        The question is asked from a helper thread, never from the signal handler: the handler may
        interrupt the main thread inside rich's locks, and stopping the progress display there could
        deadlock. A yes re-sends SIGINT to this process, and the handler then stops the run; a
        second Ctrl-C while the question is open stops at once.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self._stop_now or self._asking:
                self._stop_now = True
                if not self._raised:  # once: a second one would cut into the stop's own clean-up
                    self._raised = True
                    raise KeyboardInterrupt
                return
            if self._prompting:
                raise KeyboardInterrupt  # the prompt catches this and asks first
            self._asking = True
            self._idle.clear()
            threading.Thread(target=self._ask_to_stop, name="ask-to-stop", daemon=True).start()

        self._active = True
        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            self._active = False
            if not self._stop_now:
                self._idle.wait()  # an open "Stop?" question is answered before the handler goes
            signal.signal(signal.SIGINT, previous)

    def _ask_to_stop(self) -> None:
        stop = True
        try:
            self._pause()
            print(flush=True)
            stop = self.confirm_stop()
        finally:
            self._asking = False
            if stop and self._active:
                self._stop_now = True
                os.kill(os.getpid(), signal.SIGINT)
            elif not stop:
                self._resume()
            self._idle.set()

    def _wait_idle(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._idle.wait()

    @property
    def stop_requested(self) -> bool:
        """The person said yes to "Stop the run?"."""
        return self._stop_now

    def _stop_if_asked(self) -> None:
        """The stop's checkpoint at each message: the KeyboardInterrupt the signal handler raises
        lands wherever the main thread happens to be, and there (a `__del__` run by the garbage
        collector, for one) Python may print and drop it; the chat still stops here."""
        if self._stop_now and threading.current_thread() is threading.main_thread():
            self._raised = True
            raise KeyboardInterrupt

    # -- progress --------------------------------------------------------------------------------
    def _estimate(self, tool: str) -> float | None:

        run, step = self.run, step_for_tool(tool)
        if run is None or step is None or not run.done("parse"):
            return None
        seconds = (run.result("parse") or {}).get("estimate", {}).get("steps_seconds", {}).get(step)
        return float(seconds) if seconds else None

    def _start_progress(self, speaker: str, tool: str) -> None:
        self.stop_progress()
        eta = self._estimate(tool)
        with self._lock:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn(f"[{SPEAKER_STYLE.get(speaker, 'bold')}]{speaker}[/] {tool}"),
                EtaBar(),
                TimeElapsedColumn(),
                TextColumn("[dim]{task.fields[note]}[/]"),
                console=self.console,
                transient=True,
                refresh_per_second=4,
            )
            note = f"estimate ~{eta:.0f} s" if eta and eta >= 1 else ""
            self._task = self._progress.add_task(tool, total=None, eta=eta, counted=False, note=note)
            self._progress.start()

    def stop_progress(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
            self._progress = self._task = None

    def _pause(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()

    def _resume(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for line in held:
            self.log(line)
        with self._lock:
            if self._progress is not None:
                self._progress.start()
