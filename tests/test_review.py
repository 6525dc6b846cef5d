"""The Task agent's review loop (agents.review) and the Model agent's experiments (agents.experiments):
a target the first model misses gets remedy experiments, visible as tool calls with arguments, then
exit 3 with what would be needed; a target that is met gets none; bad arguments are one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CliResult, run_cli
from trainer_agent.agents.review import MAX_ROUNDS


@pytest.fixture(scope="module")
def noisy_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 rows whose label is a noisy function of two columns: no model reaches 97%."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=600) > 0, "yes", "no")
    path = tmp_path_factory.mktemp("noisy") / "rows.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": y}).to_csv(path, index=False)
    return path


def _run(table: Path, target: str, out: Path) -> CliResult:
    """`run` on the table with a count budget (two tuning trials a study), in the local sandbox."""
    request = f"Predict label from the table. {target}"
    args = ("--data", str(table), "--label", "label", "--out", str(out), "--sandbox", "local")
    return run_cli("run", request, *args, "--max-trials", "2", timeout=900)


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]


def _run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def _train_calls(run_dir: Path) -> list[dict]:
    return [
        json.loads(r.get("arguments") or "{}")
        for r in _records(run_dir)
        if r.get("tool") == "train_model" and "arguments" in r
    ]


@pytest.mark.slow
def test_a_missed_target_gets_remedies_then_exit_3_with_what_would_help(
    noisy_table: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    result = _run(noisy_table, "Accuracy at least 97%", out)
    assert result.code == 3, result.stderr + result.stdout[-2000:]
    run_dir = _run_dir(out)
    state = json.loads((run_dir / "state.json").read_text())
    calls = _train_calls(run_dir)
    # the first experiment is the plan's search; each remedy is another call with other arguments
    assert calls[0]["why"] == "the plan's search" and calls[0]["families"]
    assert len(calls) == 1 + MAX_ROUNDS and len({json.dumps(c, sort_keys=True) for c in calls}) == len(calls)
    # --max-trials: the plan's budget is a count, so the first call has no budget_s; the remedies grow it
    assert calls[0]["budget_s"] is None and calls[0]["max_trials"] == 2
    assert 0 < calls[1]["budget_s"] < calls[2]["budget_s"]
    assert [e["n"] for e in state["experiments"]] == list(range(1, len(calls) + 1))
    assert sum(e["kept"] for e in state["experiments"]) == 1
    kept = next(e for e in state["experiments"] if e["kept"])
    assert kept["validation"] == max(e["validation"] for e in state["experiments"])
    # the run's model is the kept experiment's, in the run directory, and export used it
    train = state["steps"]["train"]["result"]
    assert train["family"] == kept["family"] and Path(train["model_path"]).parent == run_dir / "models"
    assert Path(train["model_path"]).is_file() and state["steps"]["export"]["status"] == "done"
    reviews = [r for r in _records(run_dir) if r.get("event") == "review"]
    assert [r["round"] for r in reviews] == list(range(1, MAX_ROUNDS + 1))
    report = (run_dir / "report.md").read_text()
    assert (
        "## Decisions and review" in report
        and "Still unmet: accuracy" in report
        and "What would help:" in report
    )
    assert "remedy 1" in result.stdout and "NOT met" in result.stdout


def test_a_met_target_gets_no_remedy(noisy_table: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = _run(noisy_table, "Accuracy at least 50%", out)
    assert result.code == 0, result.stderr
    run_dir = _run_dir(out)
    assert len(_train_calls(run_dir)) == 1
    assert not [r for r in _records(run_dir) if r.get("event") == "review"]
    report = (run_dir / "report.md").read_text()
    assert "## Decisions and review" in report and "prepare_data(test_fraction=0.2" in report
    assert "Review round" not in report and "Still unmet" not in report


def test_invalid_arguments_are_one_sentence_back_to_the_agent(tmp_path: Path) -> None:
    from trainer_agent.agents.run_state import Run, RunOptions
    from trainer_agent.agents.tools import make_tools

    run = Run.create(tmp_path, RunOptions(request="r"))
    run.state["steps"]["parse"] = {"status": "done", "result": {"decision": "accept"}}
    tools = make_tools(run)
    said = tools["prepare_data"](test_fraction=0.9)
    assert said.startswith("Error: invalid arguments for prepare_data: test_fraction") and "\n" not in said
    assert run.fatal is None
    said = tools["prepare_data"](split="random")
    assert said.startswith("Error: invalid arguments for prepare_data: split") and run.fatal is None


def test_the_tools_offer_their_arguments_to_an_llm(tmp_path: Path) -> None:
    """AG2 builds each tool's JSON schema from the signature: the decisions and their descriptions."""
    from autogen.tools import Tool

    from trainer_agent.agents.run_state import Run, RunOptions
    from trainer_agent.agents.tools import make_tools

    tools = make_tools(Run.create(tmp_path, RunOptions(request="r")))
    schema = Tool(func_or_tool=tools["train_model"]).tool_schema["function"]["parameters"]
    assert {"families", "budget_s", "max_trials", "distill", "why"} <= set(schema["properties"])
    assert "catalog families" in schema["properties"]["families"]["description"]
    assert schema.get("required", []) == []
    serve = Tool(func_or_tool=tools["deploy_service"]).tool_schema["function"]["parameters"]
    assert serve["properties"]["replicas"]["description"].startswith("replicas in the deployment")


def test_sizing_with_chosen_replicas_says_when_they_are_too_few() -> None:
    from trainer_agent.skills.serve.sizing import estimate

    levels = [{"concurrency": 1, "qps": 100.0, "p50_ms": 5.0, "p95_ms": 9.0}]
    capacity = {"capacity_qps": 100.0, "levels": levels, "memory_mb": 100.0}
    sized = estimate(capacity, target_qps=400)
    assert sized["replicas"] == sized["sized_replicas"] >= 5
    few = estimate(capacity, target_qps=400, chosen=2)
    assert few["replicas"] == 2 and few["sized_replicas"] == sized["replicas"] and not few["fits"]
    assert any("chosen" in n for n in few["notes"]) and any(
        "more than the 100 QPS" in n for n in few["notes"]
    )
