"""What an agent does next (`Action`) and the SOP's next piece of work once the Task agent has
nothing else to say (`next_work`): read by the offline policy and by the person model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainer_agent.agents import summaries
from trainer_agent.agents.routing import HUB, TERMINATE
from trainer_agent.agents.run_state import Run


@dataclass
class Action:
    """What the agent does next: call a tool, or say something."""

    tool: str | None = None
    text: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def next_work(run: Run) -> Action:
    """The pipeline's next unfinished step: the hub's own tool call (the report) or the hand-off to
    the specialist who owns it; the final summary once every step has run."""
    step = run.next_step()
    if step is None:
        return Action(text=summaries.final_summary(run) + "\n" + TERMINATE)
    if step.owner == HUB:
        return Action(tool=step.tool)
    return Action(text=summaries.handoff(run, step.name) + f"\nNEXT: {step.owner}")
