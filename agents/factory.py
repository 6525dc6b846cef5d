"""Build one of the four ConversableAgents from its SOP prompt file."""

from __future__ import annotations

from typing import Any, Literal

from trainer_agent.agents.prompts import load_prompt


def make_agent(name: str, description: str, llm_config: dict[str, Any] | Literal[False]) -> Any:
    from autogen import ConversableAgent

    return ConversableAgent(
        name=name,
        system_message=load_prompt(name),
        description=description,
        llm_config=llm_config,
        human_input_mode="NEVER",
        code_execution_config=False,
    )
