"""The fault-injection suite (issue 19): `trainer-agent run` is killed (SIGKILL) in every stage
of the pipeline table (`skills.pipeline`) and at the instant after the service process is spawned,
before it answers /ready; the `resume` that follows is stopped with SIGTERM as it re-enters the
same stage; a last `resume` finishes. Each case checks that every command ends as documented
(SIGKILL: no output of its own; SIGTERM: exit 143 and one sentence), that nothing naming the run
directory outlives a command but a recorded service (which the next command reaps), that no port
is left listening, and that the last `resume` ends with the clean run's exit code, decision, model
(the chosen family) and metrics: one clean run of the same request and data, shared by the module.

The faults come from outside, by watching the run directory (state.json's step status) and the
command's child processes, as soon as the stage starts; the product has no test hooks. A step
that takes milliseconds (the report) would end between two polls, so the killed commands start
with tests/fault_slow/sitecustomize.py on their path: the watched step waits one second before
its work, as on a busy machine. The other
faults of the issue live beside their mechanism and run in the same `./scripts/test`:
  - `resume` while `run` works on the same directory: tests/test_run_lock.py
    (test_resume_while_the_run_works_is_refused_and_the_run_finishes);
  - a full disk (a real tmpfs of a few KB to 1.2 MB) and resume once space is freed:
    tests/test_disk_full.py;
  - a truncated, empty, binary or out-of-shape state.json: tests/test_damaged_state.py; here also
    the torn state of a run killed in training, then restored and resumed (the train case below);
  - SIGTERM of `run` once the service is recorded, SIGHUP in training, kill -9 of the run of a
    ready service: tests/test_interrupts.py.

One SIGKILL of `run` and one SIGTERM of `resume` per stage, rather than a `run` for each signal,
keeps the suite at 7 runs' work (each case about one run plus two command start-ups).

    .venv/bin/pytest -q -p no:cacheprovider tests/test_faults.py
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, cmdline, live, processes_naming, run_cli
from trainer_agent.skills.pipeline import NAMES

# Seven cases of about one run's work each, plus the clean run: 13m52s (6m52s of CPU) on 2 cores
# shared at a load average of about 5 (each case 89 to 115 s; the clean run 81 s; one run alone
# on a load of 3 took 45 s). `-m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

# The tiniest data and fastest settings that still run every stage: wine (178 rows), the offline
# brain, local jobs, one tuning trial and one epoch per family.
REQUEST = "Predict the cultivar of a wine. Accuracy at least 80%"
FAST = (
    "--sandbox",
    "local",
    "--llm",
    "offline",
    "--approve",
    "auto",
    "--max-trials",
    "1",
    "--max-epochs",
    "1",
)
JOB_STAGES = ("train", "export")  # their work runs as a job in the sandbox (agents/tools.py)
SPAWN = "service spawned"  # the instant after the service process starts, before /ready answers


def _run_args(wine_csv: Path, out: Path) -> list[str]:
    return ["run", REQUEST, "--data", str(wine_csv), "--out", str(out), *FAST, "--json"]


@pytest.fixture(scope="module")
def clean(wine_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same request on the same data, never disturbed: what every resumed run must match."""
    result = run_cli(*_run_args(wine_csv, tmp_path_factory.mktemp("clean")))
    assert result.code == 0, result.stderr
    return {"code": result.code, "report": json.loads(result.stdout)}


# -- watching a run from outside --------------------------------------------------------------
def _state(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _run_dir(out: Path) -> Path | None:
    found = list(out.glob("*/state.json"))
    return found[0].parent if found else None


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _until(
    proc: subprocess.Popen[str], condition: Callable[[], bool], what: str, timeout: float = 240
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(
                f"the run ended ({proc.returncode}) before {what}: {proc.stderr and proc.stderr.read()}"
            )
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"the run never reached {what}")


def _start(args: list[str], slow_step: str) -> subprocess.Popen[str]:
    """The command, with `slow_step` one second slower to start its work (tests/fault_slow)."""
    path = os.pathsep.join((str(ROOT / "tests" / "fault_slow"), str(ROOT)))
    return subprocess.Popen(
        [sys.executable, "-m", "trainer_agent.agents.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore", "FAULTS_SLOW_STEP": slow_step},
    )


def _signal_at(
    proc: subprocess.Popen[str], find_dir: Callable[[], Path | None], sig: int, stage: str
) -> dict:
    """Send `sig` to the command `proc` (to it alone, as `kill PID` would) the moment `stage`
    starts in its run directory, or, for SPAWN, the moment it has a service process as a child.
    Returns its exit code and output, its directory, and the service ports it was seen to use."""
    ports: set[int] = set()
    before = _state(find_dir() or Path("/nonexistent")).get("steps", {}).get(stage, {}).get("started")

    def look() -> dict:
        run_dir = find_dir()
        if run_dir is None:
            return {}
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            ports.add(int(json.loads((run_dir / "service" / "service.json").read_text())["port"]))
        return _state(run_dir)

    def started() -> bool:
        step = look().get("steps", {}).get(stage, {})
        if stage != SPAWN:  # a stage a killed command left "running" counts once it starts again
            running = step.get("status") == "running" and step.get("started") != before
            # a stage that runs a sandbox job: once the job runs, so the job is there to outlive it
            return running and (
                stage not in JOB_STAGES
                or any(b"trainer_agent.skills.jobs" in cmdline(c) for c in _children(proc.pid))
            )
        for child in _children(proc.pid):
            words = cmdline(child).split(b"\0")
            if b"trainer_agent.skills.serve.service_app" in words:
                ports.add(int(words[words.index(b"--port") + 1]))
                return True
        return False

    try:
        _until(proc, started, f"the {stage} stage")
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    run_dir = find_dir()
    assert run_dir is not None
    look()
    return {"code": proc.returncode, "stdout": stdout, "stderr": stderr, "dir": run_dir, "ports": ports}


def _recorded_service(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / "service" / "service.json").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cleanup(run_dir: Path | None) -> None:
    """Whatever a failed case left running goes (the suite must not leak processes either)."""
    if run_dir is not None:
        for pid in processes_naming(str(run_dir)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


def _assert_a_torn_state_is_one_sentence_until_restored(run_dir: Path) -> None:
    whole = (run_dir / "state.json").read_bytes()
    (run_dir / "state.json").write_bytes(whole[: len(whole) // 2])
    for command in ("resume", "status"):
        result = run_cli(command, str(run_dir))
        assert result.code == 1 and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert f"'{run_dir / 'state.json'}' is damaged (" in result.stderr
    assert (run_dir / "state.json").read_bytes() == whole[: len(whole) // 2]  # left for the person
    assert processes_naming(str(run_dir)) == []  # nothing started
    (run_dir / "state.json").write_bytes(whole)  # restored: resume must then work


KILLS = [*NAMES[: NAMES.index("serve") + 1], SPAWN, *NAMES[NAMES.index("serve") + 1 :]]


@pytest.mark.parametrize("stage", KILLS)
def test_kill_9_of_run_and_sigterm_of_resume_in_each_stage_then_resume_finishes_as_the_clean_run(
    wine_csv: Path, tmp_path: Path, clean: dict, stage: str
) -> None:
    run_dir = None
    try:
        # 1. kill -9 of `run` as the stage starts
        killed = _signal_at(
            _start(_run_args(wine_csv, tmp_path), stage), lambda: _run_dir(tmp_path), signal.SIGKILL, stage
        )
        run_dir = killed["dir"]
        assert killed["code"] == -signal.SIGKILL and killed["stdout"] == ""
        assert "Traceback" not in killed["stderr"], killed["stderr"]
        # Only the service may outlive a kill -9, and only when it is recorded, so it gets reaped.
        service = _recorded_service(run_dir)
        assert set(processes_naming(str(run_dir))) <= {service}, "an unrecorded process outlived the run"
        if service is not None and live(service):
            status = run_cli("status", str(run_dir), "--json")
            assert json.loads(status.stdout)["pid"] == service, status.stdout
        if stage == "train":  # its state torn as a crash mid-write would leave it (the same run)
            _assert_a_torn_state_is_one_sentence_until_restored(run_dir)

        # 2. SIGTERM of the `resume` that follows, as it starts the same stage again
        stopped = _signal_at(
            _start(["resume", str(run_dir), "--json"], stage), lambda: run_dir, signal.SIGTERM, stage
        )
        assert stopped["code"] == 143, stopped["stderr"]
        assert stopped["stdout"] == ""
        lines = [x for x in stopped["stderr"].splitlines() if x.strip()]
        assert lines[-1] == f"error: interrupted (SIGTERM); resume with: trainer-agent resume {run_dir}", (
            lines
        )
        assert all(x.startswith("note: took over the run directory") for x in lines[:-1]), lines
        assert _state(run_dir)["status"] == "interrupted"
        assert processes_naming(str(run_dir)) == []  # the job and the service went with it
        assert not (run_dir / "service" / "service.json").exists()
        ports = killed["ports"] | stopped["ports"]
        assert all(_refused(port) for port in ports), ports

        # 3. the last `resume` finishes as the clean run did
        resumed = run_cli("resume", str(run_dir), "--json")
        assert resumed.code == clean["code"], resumed.stderr
        assert resumed.stderr.strip() == "", resumed.stderr
        report, baseline = json.loads(resumed.stdout), clean["report"]
        assert report["decision"] == baseline["decision"]
        assert report["model"] == baseline["model"]  # the chosen family, its size and parameters
        assert report["metrics"] == baseline["metrics"]
        state = _state(run_dir)
        assert state["status"] == "finished" and all(s["status"] == "done" for s in state["steps"].values())
        assert processes_naming(str(run_dir)) == []
        ports.add(int(report["service"]["url"].rsplit(":", 1)[1]))
        assert all(_refused(port) for port in ports), ports
    finally:
        _cleanup(run_dir)


def test_a_kill_9_between_the_spawn_and_the_record_of_its_pid_leaves_the_service_found(
    clean: dict, tmp_path: Path
) -> None:
    """The narrowest window the watching above can hit only by chance: a kill -9 the instant
    `_launch` returns, before anything is written. The driver kills itself there (a real SIGKILL
    of a real process; the product is not changed); `status` and `stop` must still find the
    service, and `stop` reap it."""
    run_dir = Path(shutil.copytree(clean["report"]["run_dir"], tmp_path / "run"))
    model = run_dir / "exports" / "model.onnx"
    driver = (
        "import os, signal, sys\n"
        "import trainer_agent.skills.serve.deploy as deploy\n"
        "launch = deploy._launch\n"
        "def killed_after(*args, **kwargs):\n"
        "    launch(*args, **kwargs)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "deploy._launch = killed_after\n"
        "deploy.start_service(sys.argv[1], sys.argv[2])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", driver, str(model), str(run_dir)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        [service] = processes_naming(str(run_dir))  # it outlived its starter, in its own session
        status = run_cli("status", str(run_dir), "--json")
        assert json.loads(status.stdout)["pid"] == service, status.stdout
        stopped = run_cli("stop", str(run_dir))
        assert stopped.code == 0 and "service stopped" in stopped.stdout, stopped.stdout + stopped.stderr
        assert processes_naming(str(run_dir)) == []
        assert not (run_dir / "service" / "service.json").exists()
    finally:
        _cleanup(run_dir)
