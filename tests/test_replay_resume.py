"""Recorded conversations replay identically (tools re-executed or answered from the record), a
changed skill shows where it diverged, and a run killed mid-training resumes to the same result."""

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
from trainer_agent.agents.replay import compare, replay_one

REQUEST = "Tell whether a review is great. Accuracy at least 70%, under 1M parameters"


@pytest.fixture(scope="module")
def recorded(fine_foods_small: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    train, test = fine_foods_small
    out = tmp_path_factory.mktemp("recorded")
    result = run_cli(
        "run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(out),
        "--sandbox", "local", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


@pytest.mark.parametrize("mode", ["exec", "no-exec"])
def test_replay_of_a_recorded_run_is_identical(recorded: Path, tmp_path: Path, mode: str) -> None:
    args = ["replay", str(recorded), "--out", str(tmp_path), "--json"] + (
        ["--no-exec"] if mode == "no-exec" else []
    )
    result = run_cli(*args)
    assert result.code == 0, result.stdout + result.stderr
    (outcome,) = json.loads(result.stdout)
    assert outcome["status"] == "identical" and outcome["step"] is None
    assert outcome["steps"] >= 20
    replay_dir = Path(outcome["replay_dir"])
    report = json.loads((replay_dir / "report.json").read_text())
    assert report["brain"].startswith("replay of")
    events = [json.loads(line) for line in (replay_dir / "transcript.jsonl").read_text().splitlines()]
    skipped = {e["step"] for e in events if e.get("event") == "step_skipped"}
    if mode == "no-exec":
        assert {"parse", "data", "train", "export", "serve"} <= skipped
        assert not (replay_dir / "exports" / "model.onnx").exists()
    else:
        assert skipped == set()
        assert (replay_dir / "exports" / "model.onnx").is_file()


def test_a_changed_skill_shows_where_it_diverged(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainer_agent.skills.errors import UserError

    def changed_triage(spec: object, df: object) -> object:
        raise UserError("the changed triage skill rejects everything")

    monkeypatch.setattr(skills.task.triage, "triage", changed_triage)
    outcome = replay_one(recorded, tmp_path, execute=True)
    assert outcome.status == "diverged"
    assert outcome.step == 3  # user's request, task_agent's tool call, then the tool result
    assert "expected user tool result ok, got user tool result error" in outcome.difference


def test_replay_table_and_exit_code_when_a_recording_disagrees(recorded: Path, tmp_path: Path) -> None:
    import shutil

    tampered = tmp_path / "tampered"
    shutil.copytree(recorded, tampered)
    report = json.loads((tampered / "report.json").read_text())
    report["metrics"]["accuracy"] += 0.01  # as if recorded with a skill that scored differently
    (tampered / "report.json").write_text(json.dumps(report))
    result = run_cli("replay", str(tampered), "--no-exec", "--out", str(tmp_path / "replays"))
    assert result.code == 3, result.stdout + result.stderr
    assert "diverged at step" in result.stdout and "metric accuracy" in result.stdout


def test_compare_reports_the_first_differing_step() -> None:
    a = [
        {"type": "message", "speaker": "user", "content": "r"},
        {"type": "tool_call", "speaker": "task_agent", "tool": "parse_request"},
        {"type": "tool_result", "speaker": "user", "content": "{}"},
    ]
    b = [*a[:1], {"type": "tool_call", "speaker": "task_agent", "tool": "write_report"}, a[2]]
    assert compare(a, a, None, None, 1e-6) == (3, None, "")
    steps, step, diff = compare(a, b, None, None, 1e-6)
    assert step == 2 and "parse_request" in diff and "write_report" in diff
    steps, step, diff = compare(a, a[:2], None, None, 1e-6)
    assert step == 3 and "nothing" in diff


def test_replay_of_something_that_is_not_a_run(tmp_path: Path) -> None:
    result = run_cli("replay", str(tmp_path))
    assert result.code == 1 and "transcript.jsonl" in result.stderr


def test_a_run_killed_mid_training_resumes_to_the_same_result(
    recorded: Path, fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    cmd = [sys.executable, "-m", "trainer_agent.agents.cli", "run", REQUEST, "--data", str(train), "--test-data", str(test),
           "--out", str(tmp_path), "--sandbox", "local", "--json"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    state_file = None
    while time.monotonic() < deadline:
        states = list(tmp_path.glob("*/state.json"))
        if states:
            state_file = states[0]
            try:
                steps = json.loads(state_file.read_text())["steps"]
            except (json.JSONDecodeError, KeyError):
                steps = {}
            if steps.get("train", {}).get("status") == "running":
                break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the run never reached training")
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: the CLI and its training job
    proc.wait(timeout=30)
    assert state_file is not None
    run_dir = state_file.parent
    assert json.loads(state_file.read_text())["status"] == "running"  # died; nothing marked finished
    assert not (run_dir / "report.json").exists()

    resumed = run_cli("resume", str(run_dir), "--json")
    assert resumed.code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    baseline = json.loads((recorded / "report.json").read_text())
    assert report["metrics"] == baseline["metrics"]
    assert report["model"] == baseline["model"]
    state = json.loads(state_file.read_text())
    assert state["status"] == "finished" and all(s["status"] == "done" for s in state["steps"].values())

    # The resumed run recorded two sessions; its replay resumes the same way and matches.
    replayed = run_cli("replay", str(run_dir), "--no-exec", "--out", str(tmp_path / "replays"), "--json")
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    (outcome,) = json.loads(replayed.stdout)
    assert outcome["status"] == "identical", outcome
    events = [
        json.loads(x) for x in (Path(outcome["replay_dir"]) / "transcript.jsonl").read_text().splitlines()
    ]
    assert sum(e.get("event") == "resumed" for e in events) == 1


def test_a_finished_run_resumed_again_replays_identically(recorded: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = Path(shutil.copytree(recorded, tmp_path / recorded.name))
    again = run_cli("resume", str(run_dir), "--json")
    assert again.code == 0, again.stderr
    records = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    assert sum(r.get("event") == "resumed" for r in records) == 1
    result = run_cli("replay", str(run_dir), "--no-exec", "--out", str(tmp_path / "replays"), "--json")
    assert result.code == 0, result.stdout + result.stderr
    (outcome,) = json.loads(result.stdout)
    assert outcome["status"] == "identical", outcome
