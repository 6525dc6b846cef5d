"""Each agent's SOP (system message), one Markdown file per agent.

What the pipeline table (`skills/pipeline.py`) declares is filled in when a prompt is loaded, never
written by hand: `{{ tools }}` (the agent's tools, with what each does), `{{ calls }}` (its tools
in the order it calls them) and `{{ handover }}` (the specialists in the order the Task agent hands
over to them). A placeholder with no value is an error, not an empty string.
"""

import re
import textwrap
from importlib import resources

from trainer_agent.skills.pipeline import PIPELINE, SPECIALISTS, tools_of

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
WIDTH = 100


def load_prompt(agent_name: str) -> str:
    text = resources.files(__name__).joinpath(f"{agent_name}.md").read_text(encoding="utf-8")
    return render(text, pipeline_values(agent_name), f"{agent_name}.md")


def render(text: str, values: dict[str, str], where: str = "prompt") -> str:
    """Replace each `{{ name }}` with `values[name]`; an unknown name raises KeyError."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{where}: no value for the placeholder {{{{ {name} }}}}")
        return values[name]

    return _PLACEHOLDER.sub(fill, text)


def pipeline_values(agent_name: str) -> dict[str, str]:
    """What the pipeline table says about `agent_name`, as the placeholders' text."""
    from trainer_agent.agents.tool_args import ARGS

    steps = [s for s in PIPELINE if s.owner == agent_name]
    if len(steps) == 1:
        heading = "Your tool (its arguments are your decisions; never imitate its output):"
    else:
        heading = (
            "Your tools (in this order; their arguments are your decisions; never imitate their output):"
        )
    items = []
    for s in steps:
        fields = ARGS[s.name].model_fields
        what = "no arguments" if not fields else "arguments, each optional: " + ", ".join(fields)
        lines = [f"- `{s.tool}` ({what}): {s.detail}"]
        lines += [f"  - {name}: {field.description}" for name, field in fields.items()]
        items += [
            textwrap.fill(
                line, width=WIDTH, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
            )
            for line in lines
        ]
    return {
        "tools": "\n".join([heading, *items]),
        "calls": ", then ".join(f"`{tool}`" for tool in tools_of(agent_name)),
        "handover": " -> ".join(f"{agent} ({', then '.join(tools_of(agent))})" for agent in SPECIALISTS),
    }
