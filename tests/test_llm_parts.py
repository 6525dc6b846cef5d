"""The LLM brain's parts without a server: JSON repair, configuration, usage limits, the
cross-check, reply and spec checks, the wall-clock budget, and code blocks run in the local
sandbox after approval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trainer_agent.agents.brains.llm import (
    ApprovedCodeExecutor,
    LLMBrain,
    LLMError,
    check_arguments,
    choose,
    first_difference,
    spec_problem,
)
from trainer_agent.agents.cross_check import compare, reading_of
from trainer_agent.agents.json_repair import loads_lenient
from trainer_agent.agents.llm_config import configured, from_config_list, load_file, settings_for
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.agents.usage import BudgetExceeded, Usage
from trainer_agent.skills.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


# -- JSON repair -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value", "repairs"),
    [
        ('{"a": 1}', {"a": 1}, []),
        ("Here:\n```json\n{'a': True, 'b': None,}\n```", {"a": True, "b": None},
         ["code fence", "Python literals", "single quotes", "trailing commas"]),
        ('Done. {"a": [1, 2,],} Thanks.', {"a": [1, 2]}, ["surrounding text", "trailing commas"]),
        ("{'note': \"it's\", 'q': 'say \"hi\"'}", {"note": "it's", "q": 'say "hi"'}, ["single quotes"]),
        ('```\n{"first": 1}\n```\nand\n```json\n{"second": 2}\n```', {"second": 2}, ["code fence"]),
        ('{"word": "True, None"}', {"word": "True, None"}, []),
    ],
)  # fmt: skip
def test_json_repair(text: str, value: Any, repairs: list[str]) -> None:
    assert loads_lenient(text) == (value, repairs)


@pytest.mark.parametrize("text", ['{"a": 1', "no json here", "", "{'a': }"])
def test_json_repair_does_not_guess(text: str) -> None:
    with pytest.raises(ValueError):
        loads_lenient(text)


# -- configuration -----------------------------------------------------------------------------
def test_the_shipped_example_config_loads_and_names_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example-123456")
    settings = load_file(ROOT / "configs" / "llm.yaml")
    assert settings.default.model == "gpt-4o-mini" and settings.default.api_key_env == "OPENAI_API_KEY"
    assert settings.default.price == (0.00015, 0.0006) and settings.default.timeout == 60
    assert settings.for_agent("data_agent").max_tokens == 2000  # an override keeps the default's rest
    assert settings.default.key() == "sk-example-123456"
    text = (ROOT / "configs" / "llm.yaml").read_text()
    assert "sk-" not in text and "api_key:" not in text


def test_per_agent_overrides_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "llm.yaml"
    path.write_text(
        "model: big\nbase_url: http://127.0.0.1:1/v1\napi_key_env: MY_LLM_CRED\nprice: 0.002\n"
        "agents:\n  data_agent: {model: small, api_key_env: null}\n"
    )
    settings = load_file(path)
    assert settings.default.price == (0.002, 0.002)
    assert (
        settings.for_agent("data_agent").model == "small" and settings.for_agent("task_agent").model == "big"
    )
    assert settings.for_agent("data_agent").key() == "EMPTY"  # a keyless local server
    monkeypatch.delenv("MY_LLM_CRED", raising=False)
    with pytest.raises(UserError, match="MY_LLM_CRED, which is not set"):
        settings.default.key()
    path.write_text("model: m\ntemprature: 0.1\n")
    with pytest.raises(UserError, match="temprature"):
        load_file(path)
    path.write_text("model: m\nagents:\n  chef_agent: {model: x}\n")
    with pytest.raises(UserError, match="unknown agent 'chef_agent'"):
        load_file(path)
    with pytest.raises(UserError, match="does not exist"):
        settings_for(f"config:{tmp_path / 'missing.yaml'}")


def test_oai_config_list_tags_pick_an_agents_model(tmp_path: Path) -> None:
    entries = [
        {"model": "cheap", "api_key": "k-cheap-000", "tags": ["data_agent"]},
        {"model": "main", "api_key": "k-main-000", "base_url": "http://127.0.0.1:9/v1"},
    ]
    settings = from_config_list(entries, "test")
    assert settings.default.model == "main" and settings.for_agent("data_agent").model == "cheap"
    assert "k-main" not in settings.describe()
    from_env = configured(env={"OAI_CONFIG_LIST": json.dumps(entries)}, cwd=tmp_path)
    assert from_env is not None and from_env.default.model == "main"
    (tmp_path / "list.json").write_text(json.dumps(entries))
    from_file = configured(env={"OAI_CONFIG_LIST": str(tmp_path / "list.json")}, cwd=tmp_path)
    assert from_file is not None and from_file.default.model == "main"
    assert configured(env={}, cwd=tmp_path) is None
    with pytest.raises(UserError, match="not valid JSON"):
        configured(env={"OAI_CONFIG_LIST": "[{oops"}, cwd=tmp_path)


def test_choose_without_any_llm_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OAI_CONFIG_LIST", "TRAINER_AGENT_LLM_CONFIG", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    auto = choose("auto")
    assert auto.spec == "offline" and "no OAI_CONFIG_LIST" in auto.line
    assert choose("offline").spec == "offline"
    with pytest.raises(UserError, match="--llm openai needs"):
        choose("openai")
    with pytest.raises(UserError, match="--llm must be"):
        choose("gpt-5")


# -- usage and limits --------------------------------------------------------------------------
def test_usage_counts_per_agent_and_stops_at_the_limits() -> None:
    record: dict[str, Any] = {}
    usage = Usage(record, max_llm_calls=3, max_cost=1.0)
    assert usage.add("task_agent", "m", 1000, 100, (0.1, 0.5)) == pytest.approx(0.15)
    usage.add("data_agent", "small", 2000, 0, None)
    usage.check("task_agent")
    assert record["calls"] == 2 and record["prompt_tokens"] == 3000 and record["cost"] == pytest.approx(0.15)
    assert record["per_agent"]["data_agent"] == {
        "calls": 1, "prompt_tokens": 2000, "completion_tokens": 0, "cost": 0.0, "models": ["small"],
    }  # fmt: skip
    assert usage.summary()["unpriced"] == ["small"]
    usage.add("task_agent", "m", 0, 0, (0.1, 0.5))
    with pytest.raises(BudgetExceeded, match="--max-llm-calls 3"):
        usage.check("model_agent")
    costly = Usage({}, max_cost=0.01)
    costly.add("task_agent", "m", 100_000, 0, (0.001, 0.002))
    with pytest.raises(BudgetExceeded, match=r"cost \$0\.1000, which reaches --max-cost 0\.01") as err:
        costly.check("task_agent")
    assert err.value.exit_code == 2


# -- the cross-check ---------------------------------------------------------------------------
def test_cross_check_names_each_disagreement() -> None:
    parsed = {
        "task_type": "text_classification",
        "label_column": "score",
        "text_column": "review",
        "requirements": [
            {"name": "accuracy", "op": ">=", "target": 0.9},
            {"name": "params", "op": "<", "target": 1e7},
        ],
    }
    same = {
        "task_type": "text_classification",
        "requirements": [
            {"name": "accuracy", "op": ">=", "target": 90},
            {"name": "params", "op": "<", "target": 10_000_000},
        ],
    }
    assert compare(parsed, same) == []
    other = {
        "task_type": "tabular_classification",
        "requirements": [
            {"name": "accuracy", "op": ">", "target": 0.9},
            {"name": "qps", "op": ">=", "target": 100},
        ],
    }
    found = compare(parsed, other)
    assert found[0].startswith("task_type: the parser read 'text_classification'")
    assert "the parser read accuracy >= 0.9, the LLM accuracy > 0.9" in found
    assert "the parser found params < 10,000,000, which the LLM did not state" in found
    assert "the LLM stated qps >= 100, which the parser did not find" in found
    assert reading_of("Plan.\n```json\n" + json.dumps(same) + "\n```") == same
    assert reading_of("no reading") is None and reading_of('```json\n{"requirements": "x"}\n```') is None


# -- reply and spec checks ---------------------------------------------------------------------
def test_tool_arguments_are_checked_against_the_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert check_arguments("t", {"n": 3}, schema) is None
    assert "takes no argument 'm'" in str(check_arguments("t", {"n": 3, "m": 1}, schema))
    assert "needs the argument 'n'" in str(check_arguments("t", {}, schema))
    assert "must be of type integer" in str(check_arguments("t", {"n": True}, schema))
    assert "JSON object" in str(check_arguments("t", [1], schema))
    assert check_arguments("t", {}, {"type": "object", "properties": {}}) is None


def test_first_difference_tolerates_rounding_and_omissions_not_contradictions() -> None:
    ours = {"a": 0.912345, "b": [1, 2], "c": {"d": "x"}, "e": 5}
    assert first_difference({"a": 0.9123, "c": {}}, ours) is None
    assert first_difference({"b": [1, 3]}, ours) == "b[1] is 3 but the tool returned 2"
    assert first_difference({"e": 6}, ours) == "e is 6 but the tool returned 5"
    assert first_difference({"b": [1, 2, 3]}, ours) == "b has 3 items, the tool returned 2"
    assert first_difference({"b": [1]}, ours) is None


def _run(tmp_path: Path, **options: Any) -> Run:
    return Run.create(tmp_path, RunOptions(request="r", sandbox="local", **options), run_id="r1")


def test_spec_problem_asks_for_the_tool_then_checks_the_json_against_its_result(tmp_path: Path) -> None:
    run = _run(tmp_path)
    problem, _ = spec_problem(run, "model_agent", "Trained it.")
    assert (
        problem
        == "model_agent: call train_model first, then report with its result as your TrainResult JSON."
    )
    result = {"family": "f", "params": 10, "size_bytes": 100, "model_path": "m", "metrics": {"accuracy": 0.9}}
    run.step("train", lambda: result)
    assert spec_problem(run, "model_agent", "Trained.\n```json\n" + json.dumps(result) + "\n```") == (
        None,
        [],
    )
    lying = {**result, "metrics": {"accuracy": 0.99}}
    problem, _ = spec_problem(run, "model_agent", json.dumps(lying))
    assert problem and "metrics.accuracy is 0.99 but the tool returned 0.9" in problem
    problem, repairs = spec_problem(run, "model_agent", repr(result))
    assert problem is None and repairs == ["single quotes"]


def test_wall_clock_budget_stops_routing(tmp_path: Path) -> None:
    config = tmp_path / "llm.yaml"
    config.write_text("model: m\nbase_url: http://127.0.0.1:9/v1\n")
    run = _run(tmp_path, llm=f"config:{config}", max_seconds=1e-6)
    brain = LLMBrain(run, run.options.llm)
    assert brain.route([{"name": "user", "content": "hi"}], "task_agent", "task_agent") is None
    assert isinstance(run.fatal, LLMError) and "wall-clock budget of 1e-06 s" in str(run.fatal)


def test_route_sends_code_to_the_user_proxy_and_the_output_back(tmp_path: Path) -> None:
    config = tmp_path / "llm.yaml"
    config.write_text("model: m\nbase_url: http://127.0.0.1:9/v1\n")
    run = _run(tmp_path, llm=f"config:{config}")
    brain = LLMBrain(run, run.options.llm)
    code = {"name": "data_agent", "content": "Check:\n```python\nprint(1)\n```"}
    assert brain.route([code], "task_agent", "data_agent") == "user"
    assert brain.executor.author == "data_agent"
    output = {"name": "user", "role": "user", "content": "exitcode: 0 (execution succeeded)\nCode output: 1"}
    assert brain.route([code, output], "task_agent", "data_agent") == "data_agent"
    spec_only = {"name": "data_agent", "content": '```json\n{"a": 1}\n```'}
    assert brain.route([spec_only], "task_agent", "model_agent") == "task_agent"
    # The hub names a specialist out of turn: the plan wins; the hub says nothing useful: it goes again.
    hub = {"name": "task_agent", "content": "NEXT: server_agent"}
    assert brain.route([hub], "server_agent", "data_agent") == "data_agent"
    idle = {"name": "task_agent", "content": "Thinking."}
    assert [brain.route([idle], None, "task_agent") for _ in range(4)] == ["task_agent"] * 3 + [None]
    assert "without calling a tool" in str(run.fatal)


# -- code blocks in the local sandbox ------------------------------------------------------------
def _block(code: str, language: str = "python") -> Any:
    from autogen.coding.base import CodeBlock

    return CodeBlock(code=code, language=language)


def test_code_block_runs_in_the_local_sandbox_after_approval(tmp_path: Path) -> None:
    run = _run(tmp_path, approve="auto")
    (run.run_dir / "data").mkdir()
    (run.run_dir / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    executor = ApprovedCodeExecutor(run, timeout=60)
    executor.author = "data_agent"
    code = "import csv\nprint('rows', len(list(csv.DictReader(open('data/train.csv')))))"
    result = executor.execute_code_blocks([_block('{"spec": 1}', "json"), _block(code)])
    try:
        assert result.exit_code == 0 and "rows 2" in result.output
        assert Path(result.code_file).parent == run.run_dir / "code"
        records = run.transcript.records()
        (approval,) = [r for r in records if r["type"] == "approval"]
        assert approval["kind"] == "execute_code" and approval["decision"] == "approve"
        assert "data_agent" in approval["description"] and "import csv" in approval["description"]
        assert run.state["sandbox"].startswith("local executor")
    finally:
        from trainer_agent.agents.sandbox_jobs import close_sandbox

        close_sandbox(run)


def test_code_block_is_not_run_without_approval(tmp_path: Path) -> None:
    run = _run(tmp_path, approve="ask")  # no terminal under pytest: denied
    marker = run.run_dir / "ran.txt"
    result = ApprovedCodeExecutor(run).execute_code_blocks([_block(f"open({str(marker)!r}, 'w')")])
    assert result.exit_code == 1 and "not approved" in result.output
    assert not marker.exists() and run.sandbox is None
    (approval,) = [r for r in run.transcript.records() if r["type"] == "approval"]
    assert approval["decision"] == "deny"


def _completion(content: str | None, calls: tuple[tuple[str, str], ...] = ()) -> Any:
    from openai.types.chat import ChatCompletion

    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ]
    return ChatCompletion.model_validate(
        {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}
    )  # fmt: skip


def test_replies_are_checked_repaired_or_refused(tmp_path: Path) -> None:
    config = tmp_path / "llm.yaml"
    config.write_text("model: m\nbase_url: http://127.0.0.1:9/v1\n")
    run = _run(tmp_path, llm=f"config:{config}")
    brain = LLMBrain(run, run.options.llm)
    offered: dict[str, dict[str, Any]] = {
        "parse_request": {"properties": {}},
        "write_report": {"properties": {}},
    }
    # A tool call written as text becomes a real one.
    response = _completion('```json\n{"name": "parse_request", "arguments": {}}\n```')
    assert brain._check_reply(response, offered) == ("", ["tool call written as text"])
    message = response.choices[0].message
    assert message.content is None and message.tool_calls[0].function.name == "parse_request"
    # Arguments in Python style are repaired; unknown arguments, other tools and empty replies are not.
    response = _completion(None, (("parse_request", "{'x': None}"),))
    assert "takes no argument 'x'" in brain._check_reply(response, offered)[0]
    assert (
        "train_model is not one of your tools"
        in brain._check_reply(_completion(None, (("train_model", "{}"),)), offered)[0]
    )
    assert "empty" in brain._check_reply(_completion("  "), offered)[0]
    # A tool whose prerequisite has not run is refused with the reason.
    assert brain._check_reply(_completion(None, (("write_report", "{}"),)), offered)[0] == (
        "write_report cannot run before parse_request has finished"
    )
    run.step("parse", lambda: {"decision": "accept"})
    assert (
        "before prepare_data has finished"
        in brain._check_reply(_completion(None, (("write_report", "{}"),)), offered)[0]
    )
    assert brain._check_reply(_completion(None, (("parse_request", ""),)), offered) == (
        "",
        ["parse_request arguments: empty arguments"],
    )


def test_a_declined_request_keeps_the_specialists_out(tmp_path: Path) -> None:
    config = tmp_path / "llm.yaml"
    config.write_text("model: m\nbase_url: http://127.0.0.1:9/v1\n")
    run = _run(tmp_path, llm=f"config:{config}")
    brain = LLMBrain(run, run.options.llm)
    run.step("parse", lambda: {"decision": "ask"})
    hub = {"name": "task_agent", "content": "Let the data agent look.\nNEXT: data_agent"}
    assert brain.route([hub], "data_agent", "data_agent") == "task_agent"
    assert "decision: ask" in str(brain._not_yet("prepare_data"))
    assert brain._not_yet("write_report") is None
    run.step("report", lambda: {"decision": "ask"})
    assert brain.route([hub], "data_agent", "data_agent") is None
