"""The local executor: a subprocess in the workspace with rlimits. Less isolated than Docker."""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from trainer_agent.sandbox.base import JobResult, OutputCallback, OutputCollector, Sandbox, describe_exit
from trainer_agent.sandbox.config import SandboxConfig
from trainer_agent.skills.child_env import child_env

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# How a Python job reports that an allocation failed under RLIMIT_AS (the local "OOM").
_OOM_MARKERS = (
    "MemoryError",
    "Unable to allocate",  # numpy
    "can't allocate memory",  # torch DefaultCPUAllocator
    "std::bad_alloc",
    "Cannot allocate memory",
)


def _count_user_processes(uid: int) -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{d}").st_uid == uid:
                    n += 1
    return n


def _parent_death_signal() -> Callable[[], None]:
    """For the child, between fork and exec: on Linux, have the kernel SIGKILL the job when the
    process that started it dies, however it dies, so a `kill -9` of trainer-agent never leaves
    a job training on in the run directory (its own session keeps it out of the caller's process
    group). Elsewhere a no-op. libc is loaded here, in the parent: the child only calls it."""
    if not sys.platform.startswith("linux"):
        return lambda: None

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def apply() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # it died before prctl took effect
            os._exit(1)

    return apply


class LocalSandbox(Sandbox):
    """Runs commands as host subprocesses with CPU-time, memory, file-size and process limits."""

    kind = "local"
    isolation = (
        "local subprocess: less isolated than Docker - it sees the host's files and network; "
        "only CPU time, memory (address space), file size and process count are limited"
    )
    python = sys.executable

    def __init__(self, workspace: str | Path, config: SandboxConfig | None = None) -> None:
        super().__init__(workspace, config)
        self.gpu_note = "local executor: jobs use whatever devices the host has (no GPU isolation)"

    def to_sandbox_path(self, host_path: str | Path) -> str:
        return str(self._host_path(host_path))

    def _limits(self, timeout: float):
        """preexec_fn for the child: rlimits are set there, so they bind the job only."""
        cfg = self.config
        mem = cfg.memory_bytes
        fsize = cfg.file_size_bytes
        cpu = math.ceil(timeout) + 5  # a backstop: the wall-clock timeout normally fires first
        # RLIMIT_NPROC counts all processes of the user, so allow the ones already running.
        # It does not bind root (CAP_SYS_RESOURCE), which `isolation` does not promise anyway.
        uid = os.getuid()
        nproc = _count_user_processes(uid) + cfg.pids if uid != 0 else None
        die_with_parent = _parent_death_signal()

        def apply() -> None:
            die_with_parent()
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            if nproc is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        return apply

    def run(
        self,
        cmd: list[str],
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> JobResult:
        timeout = float(timeout if timeout is not None else self.config.timeout)
        # An allow-list of this process's environment: no LLM keys or cloud credentials reach a job.
        full_env = child_env()
        # `python` in a command means the project's Python, as it does in the image.
        full_env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + full_env.get("PATH", "")
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        collector = OutputCollector(on_output, self.config.max_output_chars)
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            cwd=self.workspace,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills its children too
            preexec_fn=self._limits(timeout),
        )
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            with contextlib.suppress(OSError, ValueError):
                while chunk := os.read(stdout.fileno(), 65536):
                    collector.feed(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BaseException:  # Ctrl-C: take the job down with us
            self._kill_group(proc)
            raise
        finally:
            # Children left behind (same process group) go too, so the pipe closes.
            self._kill_group(proc)
            proc.wait()
            reader.join(timeout=5)
            stdout.close()
        duration = time.monotonic() - start
        collector.close()
        output = collector.text
        exit_code = proc.returncode
        oom = not timed_out and exit_code != 0 and any(m in output[-4000:] for m in _OOM_MARKERS)
        reason = describe_exit(
            exit_code,
            timed_out=timed_out,
            timeout=timeout,
            oom=oom,
            memory_limit=self.config.memory_bytes,
            duration_s=duration,
        )
        return JobResult(exit_code, output, duration, timed_out=timed_out, oom_killed=oom, reason=reason)

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
