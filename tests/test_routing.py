"""Routing is a pure function: who speaks after whom, and what is never allowed."""

from __future__ import annotations

import pytest

from trainer_agent.agents.routing import (
    AGENT_NAMES,
    ALLOWED,
    EXECUTOR,
    HUB,
    SPECIALISTS,
    is_allowed,
    named_next,
    next_speaker,
)


def msg(name: str, content: str | None = "hi", **extra: object) -> dict:
    return {"name": name, "content": content, **extra}


def call(name: str, tool: str = "prepare_data") -> dict:
    return msg(name, None, tool_calls=[{"id": "c1", "function": {"name": tool, "arguments": "{}"}}])


def result() -> dict:
    return msg(EXECUTOR, "{}", role="tool", tool_responses=[{"tool_call_id": "c1", "content": "{}"}])


def test_first_speaker_is_the_hub() -> None:
    assert next_speaker([], plan_next="data_agent") == HUB
    assert next_speaker([msg(EXECUTOR, "train a model")], plan_next="data_agent") == HUB


@pytest.mark.parametrize("caller", [HUB, *SPECIALISTS])
def test_tool_calls_go_to_the_executor_and_results_back_to_the_caller(caller: str) -> None:
    history = [msg(EXECUTOR, "request"), call(caller)]
    assert next_speaker(history, plan_next=None) == EXECUTOR
    assert next_speaker([*history, result()], plan_next=None) == caller


@pytest.mark.parametrize("specialist", SPECIALISTS)
def test_specialists_always_report_back_to_the_hub(specialist: str) -> None:
    history = [msg(EXECUTOR, "request"), msg(specialist, "done\nNEXT: model_agent")]
    assert next_speaker(history, plan_next="model_agent") == HUB


def test_hub_names_the_next_speaker() -> None:
    history = [msg(EXECUTOR, "request"), msg(HUB, "Plan...\nNEXT: data_agent")]
    assert next_speaker(history, plan_next="model_agent") == "data_agent"


def test_hub_naming_an_unknown_or_disallowed_speaker_falls_back_to_the_plan() -> None:
    for bad in ("NEXT: nobody", "NEXT: task_agent", "no next line at all"):
        history = [msg(EXECUTOR, "request"), msg(HUB, bad)]
        assert next_speaker(history, plan_next="model_agent") == "model_agent"


def test_hub_fallback_to_itself_is_not_allowed_and_ends_the_chat() -> None:
    history = [msg(EXECUTOR, "request"), msg(HUB, "thinking")]
    assert next_speaker(history, plan_next=HUB) is None


def test_termination_ends_the_chat() -> None:
    history = [msg(EXECUTOR, "request"), msg(HUB, "All met.\nTERMINATE")]
    assert next_speaker(history, plan_next="data_agent") is None


def test_named_next_takes_the_last_next_line() -> None:
    assert named_next("NEXT: data_agent\nthen\nNEXT: model_agent") == "model_agent"
    assert named_next("the next step: none") is None
    assert named_next(None) is None


def test_transition_table_is_hub_and_spoke() -> None:
    assert set(ALLOWED) == set(AGENT_NAMES)
    for specialist in SPECIALISTS:
        assert ALLOWED[specialist] == {EXECUTOR, HUB}
        for other in SPECIALISTS:
            assert not is_allowed(specialist, other)
    assert not is_allowed(HUB, HUB)
    assert is_allowed(HUB, None)
    assert not is_allowed(EXECUTOR, None)


def test_every_route_the_function_returns_is_allowed() -> None:
    speakers = [EXECUTOR, HUB, *SPECIALISTS]
    plans = [None, *AGENT_NAMES]
    for speaker in speakers:
        for content in ("x", "NEXT: data_agent", "NEXT: server_agent", "TERMINATE", "NEXT: user"):
            for plan in plans:
                nxt = next_speaker([msg(EXECUTOR, "r"), msg(speaker, content)], plan_next=plan)
                assert nxt is None or is_allowed(speaker, nxt), (speaker, content, plan, nxt)
