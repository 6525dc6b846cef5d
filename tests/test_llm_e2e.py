"""The LLM brain at the wire: the real CLI, AG2 and the `openai` client talk to a local fake
OpenAI server (tests/fake_openai.py) that serves scripted replies with tool calls, malformed and
wrong-schema JSON, a 500 and a 429; the whole pipeline runs for real (training, ONNX, service)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.fake_openai import FakeOpenAI, Reply, call, dynamic, fail, say

pytestmark = pytest.mark.slow  # one real run: training, ONNX export and a service (~30 s)

KEY = "sk-wire-test-9f8e7d6c5b4a"
REQUEST = "Predict the cultivar of a wine from its chemistry with accuracy above 80%."
PRICE_LARGE, PRICE_SMALL = (0.5, 1.5), (0.1, 0.2)
RUN_FILES = (
    "request.txt",
    "spec.json",
    "data_card.md",
    "model_card.md",
    "metrics.json",
    "exports/model.onnx",
    "report.md",
    "report.json",
    "transcript.jsonl",
    "state.json",
)
FAMILY = "random-forest-classifier"  # the offline policy tries every default tabular family
READING = {
    "task_type": "tabular_classification",
    "label_column": "cultivar",
    "requirements": [{"name": "accuracy", "op": ">=", "target": 0.85}],
}


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in body["messages"] if m.get("role") == "tool"]


def data_report_as_python(body: dict[str, Any]) -> Reply:
    """The DataReport the tool returned, written with Python literals and single quotes."""
    return say(f"Data ready, nothing suspicious.\n```json\n{tool_results(body)[-1]!r}\n```")


def count_rows_code(body: dict[str, Any]) -> Reply:
    return say(
        "Let me count the prepared rows.\n```python\n"
        "print('rows:', sum(1 for _ in open('data/train.csv')) - 1)\n```"
    )


def train_report(wrong: bool) -> Any:
    def make(body: dict[str, Any]) -> Reply:
        result = dict(tool_results(body)[-1])
        if wrong:
            result["params"] = "many"
        return say(f"Trained {result['family']}.\n```json\n{json.dumps(result)}\n```")

    return make


def server_report_with_trailing_commas(body: dict[str, Any]) -> Reply:
    export, deployment = tool_results(body)[-2:]
    text = json.dumps({"export": export, "deployment": deployment}, indent=1)
    text = re.sub(r"([^\s{\[,])\n(\s*)([}\]])", r"\1,\n\2\3", text)
    return say(f"Exported and serving.\n```json\n{text}\n```")


def script() -> dict[str, list[Reply]]:
    return {
        "task_agent": [
            say(f"My reading of the request:\n```json\n{json.dumps(READING)}\n```"),
            call("parse_request", arguments=""),
            say("Plan: data, then model, then server.\ndata_agent: prepare the data.\nNEXT: data_agent"),
            say("Data accepted.\nNEXT: model_agent"),
            say("Model accepted.\nNEXT: server_agent"),
            call("write_report"),
            say("Done: every requirement is met.\nTERMINATE"),
        ],
        "data_agent": [
            fail(500),
            call("prepare_data", json.dumps({"test_fraction": 0.3})),  # the offline policy holds out 0.2
            dynamic(count_rows_code),
            dynamic(data_report_as_python),
        ],
        "model_agent": [
            fail(429, headers={"retry-after-ms": "20"}),
            call("deploy_service"),
            call(
                "train_model", json.dumps({"families": [FAMILY], "why": "a forest suits 13 numeric columns"})
            ),
            dynamic(train_report(wrong=True)),
            dynamic(train_report(wrong=False)),
        ],
        "server_agent": [
            call("export_model"),
            call("deploy_service"),
            dynamic(server_report_with_trailing_commas),
        ],
        # the LLM ethics judge, asked by parse_request: one of the run's LLM calls
        "ethics_judge": [say('{"refuse": false, "category": null, "why": "grape cultivars from chemistry"}')],
    }


def write_config(path: Path, base_url: str, **default: Any) -> Path:
    import yaml

    config = {
        "default": {
            "model": "fake-large",
            "base_url": base_url,
            "api_key_env": "FAKE_LLM_CREDENTIAL",
            "temperature": 0.0,
            "timeout": 20,
            "max_retries": 2,
            "max_tokens": 800,
            "price": list(PRICE_LARGE),
            **default,
        },
        "agents": {"data_agent": {"model": "fake-small", "price": list(PRICE_SMALL)}},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def wire_run(wine_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("llm_runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("FAKE_LLM_CREDENTIAL", KEY)
    try:
        with FakeOpenAI(script(), api_key=KEY) as server:
            config = write_config(out / "llm.yaml", server.base_url)
            llm = f"config:{config}"
            result = run_cli(
                "run", REQUEST, "--data", str(wine_csv), "--out", str(out / "runs"), "--llm", llm
            )
    finally:
        mp.undo()
    (run_dir,) = (out / "runs").iterdir()
    return {"result": result, "server": server, "dir": run_dir, "config": config}


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]


def test_full_group_chat_on_an_llm_produces_the_run_directory(wire_run: dict[str, Any]) -> None:
    result, run_dir = wire_run["result"], wire_run["dir"]
    assert result.code == 0, result.stderr + result.stdout[-3000:]
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    report = json.loads((run_dir / "report.json").read_text())
    assert (
        "LLM fake-large at http://127.0.0.1:" in report["brain"]
        and "data_agent: fake-small" in report["brain"]
    )
    assert report["decision"] == "accept" and report["requirements"][0]["met"] is True
    assert report["service"]["smoke"]
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "finished" and state["options"]["llm"].startswith("config:")
    assert wire_run["server"].remaining() == {}, "every scripted reply was used"
    calls = [(r["speaker"], r["tool"]) for r in records(run_dir) if r["type"] == "tool_call"]
    assert calls == [
        ("task_agent", "parse_request"),
        ("data_agent", "prepare_data"),
        ("model_agent", "train_model"),
        ("server_agent", "export_model"),
        ("server_agent", "deploy_service"),
        ("task_agent", "write_report"),
    ]
    assert "brain: LLM fake-large" in result.stdout and "LLM usage: 18 calls" in result.stdout


def test_usage_and_cost_per_agent_match_what_the_server_sent(wire_run: dict[str, Any]) -> None:
    server: FakeOpenAI = wire_run["server"]
    usage = json.loads((wire_run["dir"] / "report.json").read_text())["llm_usage"]
    sent = server.usage_sent()
    assert usage["calls"] == sent["calls"] == 18
    assert (
        usage["prompt_tokens"] == sent["prompt_tokens"]
        and usage["completion_tokens"] == sent["completion_tokens"]
    )
    per_agent = usage["per_agent"]
    assert {a: u["calls"] for a, u in per_agent.items()} == {
        "task_agent": 7,
        "data_agent": 3,
        "model_agent": 4,
        "server_agent": 3,
        "ethics_judge": 1,  # on the task agent's model
    }
    assert per_agent["ethics_judge"]["models"] == ["fake-large"]
    expected_cost = 0.0
    for r in server.chat_requests():
        if r.status == 200:
            price = PRICE_SMALL if r.agent == "data_agent" else PRICE_LARGE
            expected_cost += (
                r.usage["prompt_tokens"] * price[0] + r.usage["completion_tokens"] * price[1]
            ) / 1000
    assert usage["cost"] == pytest.approx(expected_cost, rel=1e-6)
    assert per_agent["data_agent"]["models"] == ["fake-small"]
    md = (wire_run["dir"] / "report.md").read_text()
    assert "## LLM usage" in md and "| data_agent | 3 |" in md


def test_what_the_server_received(wire_run: dict[str, Any]) -> None:
    server: FakeOpenAI = wire_run["server"]
    offered = {
        "task_agent": ["parse_request", "write_report"],
        "data_agent": ["prepare_data"],
        "model_agent": ["train_model"],
        "server_agent": ["export_model", "deploy_service"],
    }
    from trainer_agent.agents.prompts import load_prompt

    for agent, tools in offered.items():
        requests = server.chat_requests(agent)
        assert requests, agent
        for r in requests:
            assert sorted(r.tools) == sorted(tools), agent
            assert r.body["model"] == ("fake-small" if agent == "data_agent" else "fake-large")
            assert r.body["temperature"] == 0.0 and r.body["max_tokens"] == 800
            assert r.headers["authorization"] == f"Bearer {KEY}"
            assert r.messages[0] == {"role": "system", "content": load_prompt(agent)}
    first = server.chat_requests("task_agent")[0]
    assert first.messages[-1]["content"] == REQUEST and first.messages[-1]["role"] == "user"
    # The data agent saw the Task agent's hand-off, the model agent the data agent's report.
    assert any(
        "NEXT: data_agent" in str(m.get("content")) for m in server.chat_requests("data_agent")[0].messages
    )
    assert any(m.get("name") == "data_agent" for m in server.chat_requests("model_agent")[0].messages)
    assert all(r.method == "POST" and r.path == "/v1/chat/completions" for r in server.chat_requests())


def test_500_and_429_are_retried_by_the_client(wire_run: dict[str, Any]) -> None:
    server: FakeOpenAI = wire_run["server"]
    for agent, status in (("data_agent", 500), ("model_agent", 429)):
        first, retry = server.chat_requests(agent)[:2]
        assert (first.status, retry.status) == (status, 200)
        assert first.body == retry.body
        assert (first.headers["x-stainless-retry-count"], retry.headers["x-stainless-retry-count"]) == (
            "0",
            "1",
        )


def test_unknown_tool_call_is_sent_back_to_the_model(wire_run: dict[str, Any]) -> None:
    server: FakeOpenAI = wire_run["server"]
    asked_again = server.chat_requests("model_agent")[2]  # after the 429 and the bad call
    last = asked_again.messages[-1]
    assert last["role"] == "tool" and "deploy_service is not one of your tools" in last["content"]
    assert asked_again.messages[-2]["tool_calls"][0]["function"]["name"] == "deploy_service"
    rejected = [r for r in records(wire_run["dir"]) if r.get("event") == "llm_reply_rejected"]
    assert [r["agent"] for r in rejected] == ["model_agent"]


def test_wrong_schema_goes_back_with_the_error_then_the_fix_is_accepted(wire_run: dict[str, Any]) -> None:
    server: FakeOpenAI = wire_run["server"]
    fix_request = server.chat_requests("model_agent")[-1]
    feedback = fix_request.messages[-1]
    assert feedback["name"] == "task_agent" and "params" in feedback["content"]
    assert "TrainResult" in feedback["content"] and feedback["content"].rstrip().endswith("NEXT: model_agent")
    events = [r for r in records(wire_run["dir"]) if r.get("event") == "spec_rejected"]
    assert [(e["agent"], e["attempt"]) for e in events] == [("model_agent", 1)]


def test_malformed_json_and_tool_arguments_are_repaired(wire_run: dict[str, Any]) -> None:
    recs = records(wire_run["dir"])
    repaired = {r["agent"]: r["repairs"] for r in recs if r.get("event") == "spec_repaired"}
    assert set(repaired["data_agent"]) == {"Python literals", "single quotes"}
    assert repaired["server_agent"] == ["trailing commas"]
    args = [r for r in recs if r.get("event") == "llm_reply_repaired"]
    assert args[0]["agent"] == "task_agent" and args[0]["repairs"] == [
        "parse_request arguments: empty arguments"
    ]


def test_code_block_runs_in_the_sandbox_after_approval(wire_run: dict[str, Any]) -> None:
    recs = records(wire_run["dir"])
    (approval,) = [r for r in recs if r["type"] == "approval" and r["kind"] == "execute_code"]
    assert approval["decision"] == "approve" and "data_agent" in approval["description"]
    (ran,) = [r for r in recs if r.get("event") == "code_executed"]
    assert ran["exit_code"] == 0
    rows = json.loads((wire_run["dir"] / "state.json").read_text())["steps"]["data"]["result"]["n_train"]
    assert f"rows: {rows}" in ran["output"]
    # The output went back to its author, the data agent, through the user proxy.
    after = wire_run["server"].chat_requests("data_agent")[-1].messages[-1]
    assert (
        after["name"] == "user"
        and after["content"].startswith("exitcode: 0")
        and f"rows: {rows}" in after["content"]
    )


def test_cross_check_disagreement_is_shown_and_recorded(wire_run: dict[str, Any]) -> None:
    report = json.loads((wire_run["dir"] / "report.json").read_text())
    check = report["cross_check"]
    assert check["agree"] is False and check["llm_reading"] == READING
    assert any("accuracy > 0.8" in d and "accuracy >= 0.85" in d for d in check["disagreements"]), check
    assert "cross-check" in wire_run["result"].stdout and "accuracy >= 0.85" in wire_run["result"].stdout
    assert any(r.get("event") == "cross_check" for r in records(wire_run["dir"]))
    assert "## Cross-check" in (wire_run["dir"] / "report.md").read_text()


def test_llm_requests_and_responses_are_in_the_transcript_without_the_key(wire_run: dict[str, Any]) -> None:
    recs = records(wire_run["dir"])
    requests = [r for r in recs if r["type"] == "llm_request"]
    responses = [r for r in recs if r["type"] == "llm_response"]
    assert len(requests) == len(responses) == 18
    assert [r["agent"] for r in requests].count("ethics_judge") == 1  # parse_request asked the LLM judge
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["request_hash"]) for r in requests)
    assert [q["request_hash"] for q in requests] == [a["request_hash"] for a in responses]
    for path in wire_run["dir"].rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md", ".txt", ".py", ".log", ""):
            assert KEY not in path.read_text(errors="ignore"), path
    assert KEY not in wire_run["result"].stdout + wire_run["result"].stderr


def test_the_llms_own_choices_are_honoured_and_reported(wire_run: dict[str, Any]) -> None:
    """The LLM chose a 30% test split and one family, where the offline policy holds out 20% and
    tries every default family: the run does what the LLM chose, and the report says so."""
    from trainer_agent.agents.tool_args import DataArgs

    run_dir = wire_run["dir"]
    state = json.loads((run_dir / "state.json").read_text())
    assert DataArgs().test_fraction != 0.3
    assert state["steps"]["data"]["args"]["test_fraction"] == 0.3
    data = state["steps"]["data"]["result"]
    assert abs(data["n_test"] / (data["n_train"] + data["n_test"]) - 0.3) < 0.02
    assert state["experiments"][0]["args"]["families"] == [FAMILY]
    assert state["steps"]["train"]["result"]["family"] == FAMILY
    assert [c["name"] for c in state["steps"]["train"]["result"]["candidates"]] == [FAMILY]
    report = (run_dir / "report.md").read_text()
    assert "prepare_data(test_fraction=0.3" in report and f"families=['{FAMILY}']" in report
    assert "a forest suits 13 numeric columns" in report
