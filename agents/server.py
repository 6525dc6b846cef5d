"""The server agent (server_agent): its description and the tools it may call."""

from __future__ import annotations

from typing import Any, Literal

from agents.factory import make_agent

NAME = "server_agent"
DESCRIPTION = "Exports the model to ONNX, measures it, and serves it with docs and monitoring."
TOOLS = ("export_model", "deploy_service")


def make(llm_config: dict[str, Any] | Literal[False]) -> Any:
    return make_agent(NAME, DESCRIPTION, llm_config)
