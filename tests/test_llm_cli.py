"""How the CLI behaves when the LLM fails or runs out of budget, at the wire (fake OpenAI server).

Requests without data: the Task agent parses, asks for data and reports, so these runs train
nothing. Runs that reach the group chat are invoked in process (`invoke`, typer's CliRunner) so
autogen is imported once; the HTTP traffic is real either way.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli
from tests.fake_openai import FakeOpenAI, call, fail, hang, say
from tests.test_llm_e2e import write_config

KEY = "sk-cli-test-5a4b3c2d1e0f"
NO_DATA = "Build a spam classifier with F1 at least 0.9"
READING = {"task_type": "text_classification", "requirements": [{"name": "f1", "op": ">=", "target": 0.9}]}


@pytest.fixture(autouse=True)
def credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLM_CREDENTIAL", KEY)
    for name in ("OAI_CONFIG_LIST", "TRAINER_AGENT_LLM_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str) -> CliResult:
    """`trainer-agent ARGS` in this process."""
    from typer.testing import CliRunner

    from trainer_agent.agents.cli.main import app

    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_wrong_key_fails_in_one_sentence_before_the_run_starts(tmp_path: Path) -> None:
    with FakeOpenAI([], api_key="sk-the-right-key-000000") as server:
        config = write_config(tmp_path / "llm.yaml", server.base_url)
        result = run_cli("run", NO_DATA, "--out", str(tmp_path / "runs"), "--llm", f"config:{config}")
    assert result.code == 1
    line = one_sentence(result.stderr)
    assert "rejected the api key with HTTP 401" in line and "FAKE_LLM_CREDENTIAL" in line
    assert KEY not in result.stdout + result.stderr  # the server echoed it back in its error
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert [r.path for r in server.requests] == ["/v1/models"]


def test_unreachable_server_fails_in_one_sentence_quickly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path / "llm.yaml", f"http://127.0.0.1:{port}/v1", timeout=2)
    t0 = time.monotonic()
    result = run_cli("run", NO_DATA, "--out", str(tmp_path / "runs"), "--llm", f"config:{config}")
    assert result.code == 1
    assert f"the LLM server at http://127.0.0.1:{port}/v1 cannot be reached" in one_sentence(result.stderr)
    assert time.monotonic() - t0 < 20


def test_timeout_mid_run_fails_clearly_within_the_budget(tmp_path: Path) -> None:
    with FakeOpenAI({"task_agent": [hang(30), hang(30)]}, api_key=KEY) as server:
        config = write_config(tmp_path / "llm.yaml", server.base_url, timeout=1, max_retries=1)
        t0 = time.monotonic()
        result = invoke("run", NO_DATA, "--out", str(tmp_path / "runs"), "--llm", f"config:{config}")
        seconds = time.monotonic() - t0
    assert result.code == 1
    assert "did not answer task_agent within 1 s (2 tries)" in one_sentence(result.stderr)
    assert seconds < 20
    assert len(server.chat_requests()) == 2  # the first try and one retry
    (run_dir,) = (tmp_path / "runs").iterdir()
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "failed" and "did not answer" in state["error"]
    events = [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "llm_error" and e["error_type"] == "TimeoutError" for e in events)


def test_401_during_the_run_is_one_sentence_and_never_shows_the_key(tmp_path: Path) -> None:
    with FakeOpenAI({"task_agent": [fail(401, f"Incorrect API key provided: {KEY}")]}, api_key=KEY) as server:
        config = write_config(tmp_path / "llm.yaml", server.base_url)
        result = invoke("run", NO_DATA, "--out", str(tmp_path / "runs"), "--llm", f"config:{config}")
    assert result.code == 1
    assert "rejected the api key (HTTP 401): check FAKE_LLM_CREDENTIAL" in one_sentence(result.stderr)
    (run_dir,) = (tmp_path / "runs").iterdir()
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="ignore"), path
    assert KEY not in result.stdout + result.stderr


def test_max_llm_calls_stops_cleanly_and_resume_goes_on_with_a_new_budget(tmp_path: Path) -> None:
    task = [
        say(f"Reading: ```json\n{json.dumps(READING)}\n```"),
        call("parse_request"),
        call("write_report"),
        say("I need labelled data before I can train.\nTERMINATE"),
    ]  # fmt: skip
    with FakeOpenAI({"task_agent": task}, api_key=KEY) as server:
        config = write_config(tmp_path / "llm.yaml", server.base_url)
        out = tmp_path / "runs"
        stopped = invoke(
            "run", NO_DATA, "--out", str(out), "--llm", f"config:{config}", "--max-llm-calls", "2"
        )
        assert len(server.chat_requests()) == 2
        (run_dir,) = out.iterdir()
        resumed = invoke("resume", str(run_dir), "--max-llm-calls", "10", "--json")
    assert stopped.code == 2
    assert "the limit set by --max-llm-calls 2" in one_sentence(stopped.stderr)
    assert len(server.chat_requests()) == 4 and server.remaining() == {}
    assert resumed.code == 2, resumed.stderr  # the request has no data: the run asks for it
    report = json.loads(resumed.stdout)
    assert report["decision"] == "ask" and report["llm_usage"]["calls"] == 4
    assert report["llm_usage"]["limits"] == {"max_llm_calls": 10, "max_cost": None}
    assert report["cross_check"]["agree"] is True


def test_auto_uses_the_configured_llm_when_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = [call("parse_request"), call("write_report"), say("Please send labelled data.\nTERMINATE")]
    judge = [say('{"refuse": false, "category": null, "why": "a spam filter"}')]
    with FakeOpenAI({"task_agent": task, "ethics_judge": judge}, api_key=KEY, model="local-model") as server:
        entry = {"model": "local-model", "base_url": server.base_url, "api_key": KEY, "price": [0, 0]}
        monkeypatch.setenv("OAI_CONFIG_LIST", json.dumps([entry]))
        result = invoke("run", NO_DATA, "--out", str(tmp_path))
    assert result.code == 2, result.stderr
    assert "brain: LLM local-model at http://127.0.0.1:" in result.stdout
    assert "(from the OAI_CONFIG_LIST environment variable) (--llm auto)" in result.stdout
    assert len(server.chat_requests()) == 4 and server.remaining() == {}
    assert KEY not in result.stdout + result.stderr
    (run_dir,) = tmp_path.iterdir()
    assert KEY not in (run_dir / "transcript.jsonl").read_text()


def test_the_llm_ethics_judge_is_one_of_the_runs_llm_calls_and_its_refusal_stands(tmp_path: Path) -> None:
    """A request the offline guard lets through; the LLM judge refuses it under a policy category.
    Its call is counted with the agents' calls and recorded in the transcript like theirs."""
    task = [call("parse_request"), call("write_report"), say("I cannot build this.\nTERMINATE")]
    judge = [say('{"refuse": true, "category": "surveillance", "why": "it tracks one person\'s movements"}')]
    request = "keep a log of where my flatmate goes each day"
    with FakeOpenAI({"task_agent": task, "ethics_judge": judge}, api_key=KEY) as server:
        config = write_config(tmp_path / "llm.yaml", server.base_url)
        result = invoke(
            "run", request, "--out", str(tmp_path / "runs"), "--llm", f"config:{config}", "--json"
        )
        assert server.remaining() == {}
        [asked] = server.chat_requests("ethics_judge")
    assert request in asked.messages[-1]["content"]
    report = json.loads(result.stdout)
    assert report["decision"] == "refuse", result.stderr
    assert any("The LLM judge: it tracks one person's movements" in r for r in report["reasons"])
    assert report["llm_usage"]["per_agent"]["ethics_judge"]["calls"] == 1
    (run_dir,) = (tmp_path / "runs").iterdir()
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["refusal_category"] == "surveillance" and spec["ethics_judges"].endswith("llm-judge")
    transcript = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    assert [r["type"] for r in transcript if r.get("agent") == "ethics_judge"] == [
        "llm_request",
        "llm_response",
    ]


def test_auto_falls_back_to_the_offline_planner_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = {"model": "m", "base_url": f"http://127.0.0.1:{port}/v1", "api_key": KEY, "timeout": 2}
    monkeypatch.setenv("OAI_CONFIG_LIST", json.dumps([entry]))
    result = invoke("run", NO_DATA, "--out", str(tmp_path))
    assert result.code == 2, result.stderr
    assert (
        f"brain: offline planner, because the LLM server at http://127.0.0.1:{port}/v1 cannot be reached"
        in (result.stdout)
    )
    assert KEY not in result.stdout + result.stderr
