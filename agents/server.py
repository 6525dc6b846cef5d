"""The server agent (server_agent): its description (its tools are those of the steps it owns in
skills/pipeline.py)."""

from __future__ import annotations

from typing import Any, Literal

from trainer_agent.agents.factory import make_agent

NAME = "server_agent"
DESCRIPTION = "Exports the model to ONNX, measures it, and serves it with docs and monitoring."


def make(llm_config: dict[str, Any] | Literal[False]) -> Any:
    return make_agent(NAME, DESCRIPTION, llm_config)
