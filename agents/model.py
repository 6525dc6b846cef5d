"""The model agent (model_agent): its description and the tools it may call."""

from __future__ import annotations

from typing import Any, Literal

from agents.factory import make_agent

NAME = "model_agent"
DESCRIPTION = "Chooses, trains and evaluates the model against the requirements."
TOOLS = ("train_model",)


def make(llm_config: dict[str, Any] | Literal[False]) -> Any:
    return make_agent(NAME, DESCRIPTION, llm_config)
