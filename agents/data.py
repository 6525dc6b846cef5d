"""The data agent (data_agent): its description (its tools are those of the steps it owns in
skills/pipeline.py)."""

from __future__ import annotations

from typing import Any, Literal

from trainer_agent.agents.factory import make_agent

NAME = "data_agent"
DESCRIPTION = "Loads, checks, cleans and describes the data; holds out a test set."


def make(llm_config: dict[str, Any] | Literal[False]) -> Any:
    return make_agent(NAME, DESCRIPTION, llm_config)
