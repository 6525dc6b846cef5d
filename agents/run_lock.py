"""One owner per run directory: an exclusive lock on `owner.lock` inside it (fcntl.flock).

    with owner_lock(run_dir, "resume", announce=print):
        ...   # only this process works on run_dir; a second one gets RunInUse (exit 1)

The lock file holds the owner's pid and command while it is held and is emptied when it is
released. flock locks belong to the open file, so the kernel drops the lock of a process that
dies, however it dies (kill -9, crash, power loss): the next command takes it at once. A record
still in the file then says the previous owner ended without releasing it; the take-over is
said (`announce`) and written to the run's transcript as the event `owner_lock_taken_over`.
`status` only reads the record (`current_owner`), so it never competes for the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainer_agent.agents.transcript import Transcript
from trainer_agent.skills.errors import UserError

LOCK_FILE = "owner.lock"


class RunInUse(UserError):
    """Another live process owns the run directory."""

    exit_code = 1


def _record(fd: int) -> dict[str, Any]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
        record = json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _in_use(run_dir: Path, holder: dict[str, Any]) -> RunInUse:
    pid, command = holder.get("pid"), holder.get("command") or "trainer-agent"
    if pid is None:
        return RunInUse(
            f"the run directory '{run_dir}' is in use by another trainer-agent process; wait for it to end."
        )
    since = holder.get("since", "?")
    return RunInUse(
        f"the run directory '{run_dir}' is in use by pid {pid} (`{command}`, since {since}); "
        f"wait for it to end or stop it with: kill -INT {pid}"
    )


@contextlib.contextmanager
def owner_lock(
    run_dir: str | Path, command: str, announce: Callable[[str], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Hold the run directory's owner lock for the `with` block; yields the stale record of a
    previous owner that died holding it ({} when there was none). Raises RunInUse at once when a
    live process holds it."""
    run_dir = Path(run_dir)
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise UserError(f"cannot open the lock file '{path}': {err.strerror}.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _record(fd)
        for _ in range(20):  # the owner may have the lock but not yet its record written
            if holder:
                break
            time.sleep(0.01)
            holder = _record(fd)
        os.close(fd)
        raise _in_use(run_dir, holder) from None
    previous = _record(fd)
    try:
        record = {
            "pid": os.getpid(),
            "command": f"trainer-agent {command}",
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        if previous:
            _taken_over(run_dir, previous, record, announce)
    except OSError as err:  # a full disk: the record cannot be written
        os.close(fd)  # closing drops the lock
        from trainer_agent.skills.errors import write_error

        raise write_error(err, path, run_dir if (run_dir / "state.json").exists() else None) from err
    except BaseException:
        os.close(fd)
        raise
    try:
        yield previous
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # released cleanly: no record left to take over
        os.close(fd)


def _taken_over(
    run_dir: Path, previous: dict[str, Any], record: dict[str, Any], announce: Callable[[str], None] | None
) -> None:
    pid = previous.get("pid")
    gone = "is no longer running" if not _pid_alive(pid) else "no longer holds it"
    line = (
        f"took over the run directory from pid {pid} (`{previous.get('command', '?')}`, since "
        f"{previous.get('since', '?')}), which {gone}"
    )
    transcript = run_dir / "transcript.jsonl"
    if transcript.exists():
        with contextlib.suppress(OSError):
            Transcript(transcript).event(
                "owner_lock_taken_over",
                previous_pid=pid,
                previous_command=previous.get("command"),
                previous_since=previous.get("since"),
                pid=record["pid"],
                command=record["command"],
            )
    if announce is not None:
        announce(line)


def current_owner(run_dir: str | Path) -> dict[str, Any] | None:
    """The recorded owner of `run_dir` if that process still runs (a read: takes no lock)."""
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        record = _record(fd)
    finally:
        os.close(fd)
    return record if record and _pid_alive(record.get("pid")) else None
