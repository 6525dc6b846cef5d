"""The pipeline table (skills/pipeline.py) is the single source of the steps, their owners, tools
and order: the plan, routing, the brains, the person model, the agents' tools and prompts, and the
tool executor all say what it says, and a step's prerequisites gate its tool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainer_agent.agents import routing
from trainer_agent.agents.chat import AGENT_MODULES, plan_next
from trainer_agent.agents.prompts import load_prompt, render
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.agents.tool_args import ARGS
from trainer_agent.skills import pipeline
from trainer_agent.skills.pipeline import PIPELINE, SPECIALISTS, specialist_steps, tool_for, tools_of
from trainer_agent.skills.specs import TaskSpec

TOOLS = {step.tool for step in PIPELINE}


def _run(tmp_path: Path) -> Run:
    return Run.create(tmp_path, RunOptions(request="r", sandbox="local"), run_id="r1")


def test_the_table_is_well_formed() -> None:
    names = [step.name for step in PIPELINE]
    assert len(set(names)) == len(names) and len(TOOLS) == len(PIPELINE)
    for i, step in enumerate(PIPELINE):  # a step needs only steps declared before it
        assert set(step.requires) <= set(names[:i]), step.name
    assert set(pipeline.STOP_STEPS) <= set(names)
    assert [step.name for step in PIPELINE if not step.requires] == ["parse"]


def test_the_plan_is_the_table() -> None:
    from trainer_agent.skills.task.plan import estimate, make_plan

    spec = TaskSpec(request="classify reviews", task_type="text_classification", decision="accept")
    est = estimate(spec, n_rows=200)
    plan = make_plan(spec, est)
    assert [(p["step"], p["agent"], p["tool"]) for p in plan] == [(s.name, s.owner, s.tool) for s in PIPELINE]
    assert plan[0]["does"] == PIPELINE[0].does
    assert list(est["steps_seconds"]) == list(pipeline.NAMES)
    declined = make_plan(spec.model_copy(update={"decision": "ask"}))
    assert [p["step"] for p in declined] == list(pipeline.STOP_STEPS)


def test_routing_and_the_brains_follow_the_table(tmp_path: Path) -> None:
    from trainer_agent.agents.brains.next_step import next_work
    from trainer_agent.agents.brains.offline import decide

    assert routing.HUB == pipeline.HUB and routing.SPECIALISTS == SPECIALISTS
    run = _run(tmp_path)
    for step in PIPELINE:  # the plan hands each step, in order, to its owner
        assert plan_next(run) == step.owner
        run.step(step.name, lambda: {"decision": "accept"})
    assert plan_next(run) is None
    # Each specialist calls its own steps' tools, in the table's order.
    for agent in SPECIALISTS:
        fresh = _run(tmp_path / agent)
        for name in specialist_steps(agent):
            assert decide(agent, fresh, []).tool == tool_for(name)
            fresh.step(name, lambda: {})
    # With every step but the report done, the hub calls the report's tool.
    run.state["steps"].pop("report")
    assert next_work(run).tool == tool_for("report")


def test_each_agent_has_the_tools_of_the_steps_it_owns(tmp_path: Path) -> None:
    from trainer_agent.agents.tools import WORK, make_tools

    assert {module.NAME for module in AGENT_MODULES} == set(pipeline.AGENTS)
    assert not any(hasattr(module, "TOOLS") for module in AGENT_MODULES)  # no second list
    owned = [tool for module in AGENT_MODULES for tool in tools_of(module.NAME)]
    assert sorted(owned) == sorted(TOOLS)
    assert set(WORK) == set(pipeline.NAMES)
    tools = make_tools(_run(tmp_path))
    assert set(tools) == TOOLS
    for step in PIPELINE:  # what an LLM is told a tool does is the table's detail
        assert tools[step.tool].__doc__.lower() == step.detail.lower()


@pytest.mark.parametrize("agent", pipeline.AGENTS)
def test_the_prompts_tool_lists_are_filled_from_the_table(agent: str) -> None:
    text = load_prompt(agent)
    assert "{{" not in text and "}}" not in text
    listed = re.findall(
        r"^- `([a-z_]+)` \((?:no arguments|arguments, each optional: ([a-z_, ]+))\):", text, re.MULTILINE
    )
    assert [tool for tool, _ in listed] == list(tools_of(agent))
    for tool, names in listed:  # each tool's decisions, as agents.tool_args declares them
        step = pipeline.step_for_tool(tool)
        assert names.split(", ") == (list(ARGS[step].model_fields) or [""])
    mentioned = set(re.findall(r"`([a-z_]+)`", text)) & TOOLS
    assert mentioned == set(tools_of(agent))  # a prompt names no other agent's tool
    if agent == pipeline.HUB:
        order = re.findall(r"\b([a-z]+_agent) \(", text)
        assert order == list(SPECIALISTS)


def test_a_placeholder_without_a_value_is_an_error() -> None:
    assert render("a {{ x }} b", {"x": "1"}) == "a 1 b"
    with pytest.raises(KeyError, match="no value for the placeholder"):
        render("{{ y }}", {"x": "1"})


def test_prerequisites_gate_a_tool_with_a_sentence_naming_the_missing_step(tmp_path: Path) -> None:
    from trainer_agent.agents.tools import make_tools

    run = _run(tmp_path)
    tools = make_tools(run)
    assert tools["train_model"]() == "Error: train_model cannot run before parse_request has finished."
    run.step("parse", lambda: {"decision": "accept"})
    assert tools["train_model"]() == "Error: train_model cannot run before prepare_data has finished."
    assert tools["write_report"]() == "Error: write_report cannot run before prepare_data has finished."
    run.step("data", lambda: {"n_train": 1})
    assert "before train_model has finished" in tools["deploy_service"]()
    assert run.fatal is None and not run.done("train")  # refused, not failed: the run goes on
    refused = run.transcript.records()
    assert [r["step"] for r in refused if r.get("event") == "tool_refused"] == [
        "train",
        "train",
        "report",
        "serve",
    ]
    # A request that is not accepted runs only the stop steps: the report needs only the parse.
    run.state["steps"]["parse"]["result"] = {"decision": "ask"}
    assert (
        tools["train_model"]()
        == "Error: train_model cannot run: the request was not accepted (decision: ask)."
    )
    assert pipeline.refusal("write_report", run.done_steps(), run.decision()) is None


def test_the_person_model_redoes_a_step_and_every_step_that_needs_it() -> None:
    from trainer_agent.agents.person import affected_steps

    assert pipeline.from_step("data") == pipeline.NAMES[1:]
    assert pipeline.from_step("serve") == ("serve", "report")
    before = {"task_type": "t", "requirements": [{"name": "qps", "op": ">=", "target": 10}]}
    after = {**before, "requirements": [{"name": "qps", "op": ">=", "target": 20}]}
    assert affected_steps(before, after) == list(pipeline.from_step("serve"))
    assert affected_steps(before, before, data_changed=True) == list(pipeline.from_step("data"))
