"""The task agent (task_agent): its description (its tools are those of the steps it owns in
skills/pipeline.py)."""

from __future__ import annotations

from typing import Any, Literal

from trainer_agent.agents.factory import make_agent

NAME = "task_agent"
DESCRIPTION = "The hub. Parses the request, judges it, plans, routes the specialists and writes the report."


def make(llm_config: dict[str, Any] | Literal[False]) -> Any:
    return make_agent(NAME, DESCRIPTION, llm_config)
