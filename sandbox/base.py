"""The executor interface: run a command, or a job (module + spec file in, result file out).

Every executor (Docker, local) implements `Sandbox.run`; `run_job` is shared. A job is

    python -m <module> <spec_path> <result_path>

run with the workspace (the run directory) as its working directory, so the same job runs in
either executor. Paths handed to a job are translated with `to_sandbox_path`.
"""

from __future__ import annotations

import codecs
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from trainer_agent.sandbox.config import SandboxConfig, format_size
from trainer_agent.skills.errors import UserError

OutputCallback = Callable[[str], None]


@dataclass
class JobResult:
    """What a command or job did. `reason` is one sentence a person (or an agent) can act on."""

    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    reason: str = ""
    result_path: str | None = None

    @property
    def ok(self) -> bool:
        if self.exit_code != 0 or self.timed_out or self.oom_killed:
            return False
        return self.result_path is None or Path(self.result_path).exists()


def describe_exit(
    exit_code: int,
    *,
    timed_out: bool = False,
    timeout: float | None = None,
    oom: bool = False,
    memory_limit: int | None = None,
    duration_s: float = 0.0,
) -> str:
    """The `reason` sentence for a finished command."""
    if timed_out:
        return f"timed out after {timeout:g} s" if timeout is not None else "timed out"
    if oom:
        limit = f" (limit {format_size(memory_limit)})" if memory_limit else ""
        return f"ran out of memory{limit}"
    if exit_code == 0:
        return f"finished in {duration_s:.1f} s"
    sig = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else 0
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        extra = {
            "SIGXCPU": " (CPU time limit)",
            "SIGXFSZ": " (file size limit)",
            "SIGKILL": " (killed, e.g. by a limit or by hand)",
        }.get(name, "")
        return f"was stopped by {name}{extra}"
    return f"exited with code {exit_code}"


class OutputCollector:
    """Decodes output chunks, hands complete lines to `on_output`, keeps the last `max_chars`."""

    def __init__(self, on_output: OutputCallback | None, max_chars: int) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._on_output = on_output
        self._max = max_chars
        self._parts: list[str] = []
        self._size = 0
        self._cut = 0
        self._pending = ""

    def feed(self, chunk: bytes) -> None:
        self._add(self._decoder.decode(chunk))

    def close(self) -> None:
        self._add(self._decoder.decode(b"", final=True))
        if self._pending and self._on_output is not None:
            self._on_output(self._pending)
        self._pending = ""

    def _add(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        self._size += len(text)
        if self._size > 2 * self._max:
            joined = "".join(self._parts)
            self._cut += len(joined) - self._max
            self._parts, self._size = [joined[-self._max :]], self._max
        if self._on_output is not None:
            *lines, self._pending = (self._pending + text).split("\n")
            for line in lines:
                self._on_output(line)

    @property
    def text(self) -> str:
        joined = "".join(self._parts)
        cut = self._cut + max(0, len(joined) - self._max)
        joined = joined[-self._max :]
        return f"[... {cut} characters of output cut ...]\n{joined}" if cut else joined


class Sandbox(ABC):
    """Where jobs run. Use as a context manager, or call `close()`."""

    kind: str = "abstract"
    #: One sentence on how isolated jobs are, shown to the person.
    isolation: str = ""
    #: Why this executor was chosen (set by `make_sandbox`).
    description: str = ""
    #: Whether jobs can use a GPU, and why not if they cannot; said once when the sandbox starts.
    gpu_note: str = ""

    def __init__(self, workspace: str | Path, config: SandboxConfig | None = None) -> None:
        self.workspace = Path(workspace).resolve()
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.config = config or SandboxConfig()

    @abstractmethod
    def run(
        self,
        cmd: list[str],
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> JobResult:
        """Run `cmd` in the workspace; stdout and stderr are merged, streamed line by line."""

    @abstractmethod
    def to_sandbox_path(self, host_path: str | Path) -> str:
        """The path under which a job sees `host_path` (a file in the workspace or an input)."""

    #: The Python that runs jobs (the image's venv, or the host's for the local executor).
    python: str = "python"

    def run_job(
        self,
        module: str,
        spec_path: str | Path,
        result_path: str | Path,
        timeout: float | None = None,
        *,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> JobResult:
        """Run `python -m module spec result`; paths are host paths (or relative to the workspace)."""

        spec = self._host_path(spec_path)
        result = self._host_path(result_path)
        if not spec.is_file():
            raise UserError(f"Job spec {spec} does not exist.")
        if not result.parent.is_dir():
            raise UserError(f"Folder for the job result {result.parent} does not exist.")
        if result.exists():
            result.unlink()  # a stale result must not pass for this job's
        cmd = [self.python, "-m", module, self.to_sandbox_path(spec), self.to_sandbox_path(result)]
        res = self.run(cmd, timeout=timeout, env=env, on_output=on_output)
        res.result_path = str(result)
        if res.exit_code == 0 and not res.timed_out and not result.exists():
            res.reason = f"finished but wrote no result file {result.name}"
        return res

    def _host_path(self, path: str | Path) -> Path:
        p = Path(path)
        return (p if p.is_absolute() else self.workspace / p).resolve()

    def close(self) -> None:  # noqa: B027 - executors without resources need no cleanup
        """Release what the executor holds (the Docker container)."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
