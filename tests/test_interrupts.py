"""SIGTERM and SIGHUP stop a run the way Ctrl-C does: the job and the service go, the run is
recorded as interrupted (exit 128 + the signal), nothing is left running, and resume finishes it.
The service is recorded in the run directory the moment it is spawned, so it is always found."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

REQUEST = "Tell whether a review is great. Accuracy at least 70%, under 1M parameters"


def _start(fine_foods_small: tuple[Path, Path], out: Path, *extra: str) -> subprocess.Popen[str]:
    train, test = fine_foods_small
    cmd = [sys.executable, "-m", "trainer_agent.agents.cli", "run", REQUEST,
           "--data", str(train), "--test-data", str(test), "--out", str(out),
           "--sandbox", "local", "--llm", "offline", "--json", *extra]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen[str], condition, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if condition():
            return
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"the run never reached {what}")


def _processes_naming(text: str) -> list[int]:
    """Pids of live processes whose command line mentions `text` (jobs and services name the run
    directory in theirs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            zombie = "\nState:\tZ" in (entry / "status").read_text()
        except OSError:
            continue
        if text.encode() in cmdline and not zombie:
            found.append(int(entry.name))
    return found


def _pid_gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def _state(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _run_dir(out: Path) -> Path | None:
    found = list(out.glob("*/state.json"))
    return found[0].parent if found else None


def test_sigterm_while_serving_stops_the_service_and_resume_finishes(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    proc = _start(fine_foods_small, tmp_path)
    record: dict = {}

    def serving() -> bool:
        run_dir = _run_dir(tmp_path)
        path = run_dir / "service" / "service.json" if run_dir else None
        if path and path.exists():
            try:
                record.update(json.loads(path.read_text()))
            except ValueError:
                return False
            return record.get("pid") is not None  # its port and model come first, before the spawn
        return False

    _wait_for(proc, serving, "serving")
    # recorded as soon as it was spawned: pid, its process group and port (not yet ready, maybe)
    assert record["pgid"] == record["pid"] and record["port"] > 0 and "ready" in record
    proc.send_signal(signal.SIGTERM)  # the CLI alone, as a service manager would
    _, err = proc.communicate(timeout=60)
    run_dir = _run_dir(tmp_path)
    assert run_dir is not None
    assert proc.returncode == 143, err
    assert f"interrupted (SIGTERM); resume with: trainer-agent resume {run_dir}" in err
    assert "Traceback" not in err
    state = _state(run_dir)
    assert state["status"] == "interrupted" and state["steps"]["serve"]["status"] == "running"
    assert _pid_gone(record["pid"]), "the recorded service outlived the run"
    assert not (run_dir / "service" / "service.json").exists()
    assert _processes_naming(str(run_dir)) == []
    records = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    [stop] = [r for r in records if r.get("event") == "interrupted"]
    assert stop["signal"] == "SIGTERM" and stop["service_stopped"] is True

    resumed = run_cli("resume", str(run_dir), "--json")
    assert resumed.code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["service"]["running"] is False
    state = _state(run_dir)
    assert state["status"] == "finished" and all(s["status"] == "done" for s in state["steps"].values())
    assert _processes_naming(str(run_dir)) == []


def test_sighup_during_training_takes_the_job_down(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    proc = _start(fine_foods_small, tmp_path)

    def training() -> bool:
        run_dir = _run_dir(tmp_path)
        return bool(
            run_dir
            and _state(run_dir).get("steps", {}).get("train", {}).get("status") == "running"
            and any(p != proc.pid for p in _processes_naming(str(run_dir / "jobs")))
        )

    _wait_for(proc, training, "a training job")
    run_dir = _run_dir(tmp_path)
    assert run_dir is not None
    [job] = [p for p in _processes_naming(str(run_dir / "jobs")) if p != proc.pid]
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 129, err
    assert "interrupted (SIGHUP)" in err and "Traceback" not in err
    assert _pid_gone(job)
    assert _processes_naming(str(run_dir)) == []
    state = _state(run_dir)
    assert state["status"] == "interrupted" and state["steps"]["train"]["status"] == "running"


def test_a_service_that_a_killed_run_left_is_found_and_reaped_by_resume(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    """kill -9 leaves no clean-up: the service recorded in the run directory outlives the run,
    `status` finds it, and resume stops it before it serves again (and takes over the lock)."""
    proc = _start(fine_foods_small, tmp_path)
    record: dict = {}

    def serving() -> bool:
        run_dir = _run_dir(tmp_path)
        path = run_dir / "service" / "service.json" if run_dir else None
        try:
            record.update(json.loads(path.read_text()) if path else {})
        except (OSError, ValueError):
            return False
        return bool(record.get("ready"))

    _wait_for(proc, serving, "a ready service")
    proc.kill()
    proc.communicate(timeout=30)
    run_dir = _run_dir(tmp_path)
    assert run_dir is not None
    orphan = record["pid"]
    try:
        assert not _pid_gone(orphan)  # its own session: it outlived the run
        status = run_cli("status", str(run_dir), "--json")
        assert status.code == 0 and json.loads(status.stdout)["pid"] == orphan
        resumed = run_cli("resume", str(run_dir), "--json")
        assert resumed.code == 0, resumed.stderr
        assert _pid_gone(orphan)
        assert f"took over the run directory from pid {proc.pid}" in resumed.stderr
        records = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
        events = [r.get("event") for r in records]
        assert "owner_lock_taken_over" in events and "service_reaped" in events
        assert _processes_naming(str(run_dir)) == []
    finally:
        if not _pid_gone(orphan):
            os.killpg(orphan, signal.SIGKILL)
