"""One owner per run directory (agents/run_lock.py): a second process is refused in one sentence
naming the owner's pid; the lock of a process that died is taken over, and said so."""

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
from trainer_agent.agents.run_lock import LOCK_FILE, RunInUse, current_owner, owner_lock

REQUEST = "Tell whether a review is great. Accuracy at least 70%, under 1M parameters"


def test_a_second_owner_is_refused_and_a_clean_release_leaves_no_record(tmp_path: Path) -> None:
    with owner_lock(tmp_path, "run") as previous:
        assert previous == {}
        record = json.loads((tmp_path / LOCK_FILE).read_text())
        assert record["pid"] == os.getpid() and record["command"] == "trainer-agent run"
        assert current_owner(tmp_path)["pid"] == os.getpid()
        in_use = rf"is in use by pid {os.getpid()} \(`trainer-agent run`"
        with pytest.raises(RunInUse, match=in_use), owner_lock(tmp_path, "resume"):
            pass  # pragma: no cover - never reached
    assert (tmp_path / LOCK_FILE).read_text() == ""
    assert current_owner(tmp_path) is None
    with owner_lock(tmp_path, "resume") as previous:  # free again, and nothing to take over
        assert previous == {}


def test_the_lock_of_a_killed_process_is_taken_over_and_said_so(tmp_path: Path) -> None:
    (tmp_path / "transcript.jsonl").write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from trainer_agent.agents.run_lock import owner_lock\n"
         f"with owner_lock({str(tmp_path)!r}, 'run'):\n"
         "    print('held', flush=True); time.sleep(120)\n"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUse, match=f"pid {holder.pid}"), owner_lock(tmp_path, "resume"):
            pass  # pragma: no cover - never reached
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: no clean release
        holder.wait(timeout=30)
    said: list[str] = []
    with owner_lock(tmp_path, "resume", announce=said.append) as previous:
        assert previous["pid"] == holder.pid
    assert said == [
        f"took over the run directory from pid {holder.pid} (`trainer-agent run`, since "
        f"{previous['since']}), which is no longer running"
    ]
    [event] = [json.loads(x) for x in (tmp_path / "transcript.jsonl").read_text().splitlines()]
    assert event["event"] == "owner_lock_taken_over"
    assert event["previous_pid"] == holder.pid and event["pid"] == os.getpid()
    assert event["command"] == "trainer-agent resume"


def test_resume_while_the_run_works_is_refused_and_the_run_finishes(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    cmd = [sys.executable, "-m", "trainer_agent.agents.cli", "run", REQUEST, "--data", str(train), "--test-data", str(test),
           "--out", str(tmp_path), "--sandbox", "local", "--llm", "offline", "--json"]  # fmt: skip
    first = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        run_dir = None
        while time.monotonic() < deadline and first.poll() is None:
            states = list(tmp_path.glob("*/state.json"))
            if states and (states[0].parent / LOCK_FILE).exists():
                run_dir = states[0].parent
                if json.loads((run_dir / LOCK_FILE).read_text() or "{}").get("pid") == first.pid:
                    break
            time.sleep(0.05)
        assert run_dir is not None and first.poll() is None, "the run never started working"
        second = run_cli("resume", str(run_dir), "--json")
        status = run_cli("status", str(run_dir))
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.code == 1, second.stderr
    assert f"is in use by pid {first.pid} (`trainer-agent run`" in second.stderr
    assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert second.stdout == ""
    assert f"in use by pid {first.pid} (trainer-agent run)" in status.stdout
    assert first.returncode == 0, err
    assert json.loads(out)["decision"] == "accept"
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "finished"
    records = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    assert not any(r.get("event") in ("resumed", "owner_lock_taken_over") for r in records)
    assert (run_dir / LOCK_FILE).read_text() == ""  # released cleanly
