"""`trainer-agent chat` driven through a pseudo-terminal (pexpect): a request without data, the Task
agent's question answered with a path, the plan explained, edited and approved, approvals granted
and denied, Ctrl-C answered both ways, a finished run, and a stopped run that `resume` finishes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pexpect
import pytest

from tests.conftest import FINE_FOODS, ROOT, run_cli
from trainer_agent.agents.person import affected_steps, latest_requirements
from trainer_agent.agents.terminal import result_line
from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType

REQUEST = "Tell whether a review is great. Accuracy at least 60%, under 1M parameters"
ASK = r"\[a/d/e/x\]: "
PROMPT = "you> "


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """300 training and 100 test reviews of fine_foods."""
    folder = tmp_path_factory.mktemp("reviews")
    pd.read_csv(FINE_FOODS / "train.csv").sample(n=300, random_state=1).to_csv(
        folder / "train.csv", index=False
    )
    pd.read_csv(FINE_FOODS / "test.csv").sample(n=100, random_state=1).to_csv(
        folder / "test.csv", index=False
    )
    return folder / "train.csv", folder / "test.csv"


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[object]:
    children: list[pexpect.spawn] = []

    def spawn(*args: str) -> pexpect.spawn:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore",
            "TERM": "xterm",
            "COLUMNS": "120",
        }
        argv = [
            "-m",
            "trainer_agent.agents.cli",
            "chat",
            "--out",
            str(tmp_path / "runs"),
            "--sandbox",
            "local",
            "--llm",
            "offline",
        ]
        child = pexpect.spawn(
            sys.executable,
            [*argv, *args],
            cwd=str(ROOT),
            env=env,
            encoding="utf-8",
            timeout=120,
            dimensions=(40, 120),
        )
        child.logfile_read = (tmp_path / "session.log").open("w", encoding="utf-8")
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def _run_dir(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_chat_session_asks_listens_and_finishes(
    chat: object, reviews: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = reviews
    child = chat()  # type: ignore[operator]
    child.expect(PROMPT)
    child.sendline(REQUEST)
    child.expect("Which data should I learn from")  # no --data: the Task agent asks
    child.expect(PROMPT)
    child.sendline(str(tmp_path / "missing.csv"))
    child.expect("I cannot find the file")
    child.expect(PROMPT)
    child.sendline(f"{train} {test}")
    child.expect("Approve this plan")
    child.expect(ASK)
    child.sendline("explain")
    child.expect("Nothing has run yet")
    child.expect(ASK)
    child.sendline("edit")
    child.expect("change: ")
    child.sendline("make it under 5M parameters")
    child.expect(r"params < 5,000,000\.")  # the request read again: the new limit replaced the old one
    child.expect(ASK)
    child.sendline("approve")
    interrupted = False
    while True:
        seen = child.expect(
            [r"train_model\(", "Stop the run", r"relabel \d+ training rows", "start a web service",
             "Anything to change", pexpect.EOF]
        )  # fmt: skip
        if seen == 0 and not interrupted:
            child.sendintr()  # Ctrl-C while the model trains ...
            interrupted = True
        elif seen == 1:
            child.sendline("n")  # ... and go on
        elif seen == 2:
            child.expect(ASK)
            child.sendline("a")
        elif seen == 3:
            child.expect(ASK)
            child.sendline("deny")
        elif seen == 4:
            child.expect(PROMPT)
            child.sendline("")
        elif seen == 5:
            break
    child.close()
    assert child.exitstatus == 0, (tmp_path / "session.log").read_text()[-3000:]
    assert interrupted

    run_dir = _run_dir(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["decision"] == "accept" and report["service"] is None
    assert all(r["met"] for r in report["requirements"])
    assert {(r["name"], r["target"]) for r in report["requirements"]} >= {("params", 5_000_000.0)}
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "finished" and state["options"]["data"] == str(train.resolve())
    assert state["chat"]["changes"] == ["make it under 5M parameters"]
    records = _records(run_dir)
    approvals = [(r["kind"], r["decision"], r["by"]) for r in records if r["type"] == "approval"]
    assert approvals[:2] == [
        ("plan", "approve", "person at the terminal"),  # edited: the change, then the new plan
        ("plan", "approve", "person at the terminal"),
    ]
    assert ("start_service", "deny", "person at the terminal") in approvals
    edited = next(r for r in records if r["type"] == "approval" and r.get("edited"))
    assert edited["params"] == {"change": "make it under 5M parameters"}
    events = [r["event"] for r in records if r["type"] == "event"]
    assert {"data_changed", "request_changed", "redo"} <= set(events)
    said = [r["content"] for r in records if r["type"] == "message" and r["speaker"] == "user"]
    assert said[0] == REQUEST and f"{train} {test}" in said

    # Replayed in batch: from the first request without data, the person's answers do again what
    # they did (new data, the changed request, the steps redone) and their approvals hold.
    replayed = run_cli("replay", str(run_dir), "--out", str(tmp_path / "replays"), "--json")
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    (outcome,) = json.loads(replayed.stdout)
    assert outcome["status"] == "identical", outcome
    again = Path(outcome["replay_dir"])
    again_report = json.loads((again / "report.json").read_text())
    assert again_report["service"] is None  # the person denied the service; the replay did too
    assert again_report["requirements"] == report["requirements"]
    again_records = _records(again)
    assert next(r for r in again_records if r["type"] == "message")["content"] == REQUEST  # no data yet
    assert [e["event"] for e in again_records if e.get("event") in ("data_changed", "request_changed")] == [
        e["event"] for e in records if e.get("event") in ("data_changed", "request_changed")
    ]


@pytest.mark.slow
def test_ctrl_c_stops_a_chat_and_resume_finishes_it(
    chat: object, reviews: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = reviews
    policy = tmp_path / "policy.yaml"
    policy.write_text("approvals:\n  default: deny\n  plan: approve\n", encoding="utf-8")
    child = chat("--data", str(train), "--approve", str(policy))  # type: ignore[operator]
    child.expect(PROMPT)
    child.sendline(REQUEST)
    child.expect(r"train_model\(")
    child.sendintr()
    child.expect("Stop the run")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    run_dir = _run_dir(tmp_path)
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "interrupted" and not (run_dir / "report.json").exists()
    assert state["steps"]["data"]["status"] == "done" and "report" not in state["steps"]

    resumed = run_cli("resume", str(run_dir), "--json")
    assert resumed.code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["decision"] == "accept"
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "finished" and all(s["status"] == "done" for s in state["steps"].values())
    records = _records(run_dir)
    assert [r["event"] for r in records if r.get("event") in ("interrupted", "resumed")] == [
        "interrupted",
        "resumed",
    ]
    by = {r["kind"]: r["by"] for r in records if r["type"] == "approval"}
    assert by["plan"].endswith("plan: approve") and by["start_service"].endswith("default: deny")


def _spec(*reqs: Requirement, label: str = "score") -> dict:
    task = TaskSpec(
        request="r", task_type=TaskType.TEXT_CLASSIFICATION, label_column=label, requirements=list(reqs)
    )
    return task.model_dump(mode="json")


def test_a_change_redoes_only_the_steps_it_affects() -> None:
    acc = Requirement(name="accuracy", op=">=", target=0.7)
    small = Requirement(name="params", op="<", target=1e6)
    qps = Requirement(name="qps", op=">=", target=100)
    before = _spec(acc, small)
    assert affected_steps(before, _spec(acc, small)) == []
    assert affected_steps(before, _spec(acc, small), data_changed=True) == [
        "data",
        "train",
        "export",
        "serve",
        "report",
    ]
    assert affected_steps(before, _spec(acc, small, label="other")) == [
        "data",
        "train",
        "export",
        "serve",
        "report",
    ]
    bigger = Requirement(name="params", op="<", target=5e6)
    assert affected_steps(before, _spec(acc, bigger)) == ["train", "export", "serve", "report"]
    assert affected_steps(before, _spec(acc, small, qps)) == ["serve", "report"]
    revised = latest_requirements(TaskSpec.model_validate(_spec(acc, small, bigger, qps)))
    assert [(r.name, r.target) for r in revised.requirements] == [
        ("accuracy", 0.7),
        ("params", 5e6),
        ("qps", 100),
    ]


def test_tool_results_are_one_line_each() -> None:
    trained = {
        "family": "tfidf-logistic-regression",
        "params": 4001,
        "metrics": {"accuracy": 0.71, "recall[x]": 1},
    }
    assert (
        result_line(json.dumps(trained))
        == "tfidf-logistic-regression, 4,001 parameters, held-out accuracy 0.7100"
    )
    assert result_line(json.dumps({"skipped": "not approved"})) == "skipped: not approved"
    assert result_line("Error: the file is empty") == "Error: the file is empty"
    assert len(result_line(json.dumps({"x": "y" * 500}))) == 160


def test_quit_at_the_data_question_ends_with_the_open_questions(tmp_path: Path) -> None:
    from tests.test_approvals import ScriptedPerson
    from trainer_agent.agents.approvals import attached
    from trainer_agent.agents.chat import run_conversation
    from trainer_agent.agents.run_state import Run, RunOptions

    run = Run.create(tmp_path, RunOptions(request=REQUEST, approve="ask"))
    person = ScriptedPerson("quit")
    with attached(run, person):
        run_conversation(run)
    assert person.heard == ["you> "]  # asked once, for the data
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["decision"] == "ask" and "no data was given" in report["reasons"][0]
    said = [(r["speaker"], r["content"]) for r in _records(run.run_dir) if r["type"] == "message"]
    assert said[1][0] == "task_agent" and "Which data should I learn from?" in said[1][1]
    assert said[2] == ("user", "quit") and said[-1][1].rstrip().endswith("TERMINATE")
    assert run.state["chat"]["closed"] is True and "stopped" not in run.state["chat"]


def test_a_yes_to_stop_stops_at_the_next_message_when_python_dropped_the_interrupt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The KeyboardInterrupt that a yes sends can land in a `__del__` run by the garbage collector,
    where Python prints and drops it; the chat must still stop, at its next message."""
    import signal
    import time

    from trainer_agent.agents.terminal import Terminal

    terminal = Terminal()
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    dropped = 0
    rendered = []
    with pytest.raises(KeyboardInterrupt), terminal.catch_interrupts():
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: a helper thread asks, the answer is yes
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and dropped == 0:
            try:
                time.sleep(0.01)
            except KeyboardInterrupt:  # what a __del__ does with it
                dropped += 1
        assert dropped == 1 and terminal.stop_requested
        terminal.render("model_agent", {"content": "trained"})
        rendered.append("went on")
    assert rendered == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
def test_a_missed_target_is_negotiated_with_the_person(
    chat: object, reviews: tuple[Path, Path], tmp_path: Path
) -> None:
    """The review asks the person what to do about a missed target: 'try' runs the remedy it
    offered, 'go on' accepts the best model reached."""
    train, _ = reviews
    policy = tmp_path / "policy.yaml"
    policy.write_text("approvals:\n  default: deny\n  plan: approve\n", encoding="utf-8")
    child = chat("--data", str(train), "--approve", str(policy))  # type: ignore[operator]
    child.expect(PROMPT)
    child.sendline("Tell whether a review is great. Accuracy at least 90%, under 1M parameters")
    child.expect(r"Review: accuracy [0-9.]+ against the target >= 0.9")
    child.expect("What would help: ")
    child.expect("'try' to run remedy 1")
    child.expect(PROMPT)
    child.sendline("try")
    child.expect("Trying it")
    child.expect(r"train_model\(families=")
    child.expect("Review: accuracy", timeout=600)
    child.expect(PROMPT)
    child.sendline("go on")
    child.expect("Going on with the best model reached")
    child.expect("Anything to change")
    child.expect(PROMPT)
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3, (tmp_path / "session.log").read_text()[-3000:]
    run_dir = _run_dir(tmp_path)
    state = json.loads((run_dir / "state.json").read_text())
    assert [e["n"] for e in state["experiments"]] == [1, 2]
    assert state["review"]["accepted"] is True and len(state["review"]["rounds"]) == 1
    reviews_asked = [r for r in _records(run_dir) if r.get("event") == "review"]
    assert [r.get("by") for r in reviews_asked] == ["person"]
    assert "The person accepted the best model reached." in (run_dir / "report.md").read_text()
