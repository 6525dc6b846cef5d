"""Each agent's SOP (system message), one Markdown file per agent."""

from importlib import resources


def load_prompt(agent_name: str) -> str:
    return resources.files(__name__).joinpath(f"{agent_name}.md").read_text(encoding="utf-8")
