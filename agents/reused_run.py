"""`run --reuse` without starting the agents, when every step is reused.

Importing AG2 and the agents' conversation take seconds, longer than taking every step of a
repeated request from an earlier run. So with the offline planner (whose decisions are fixed,
`agents.brains.offline_args`), `run --reuse` first takes the steps itself, in the pipeline's order
(`skills.pipeline`), through the same tools with the arguments the planner would give, as long as
each one is reused (`agents.step_reuse`). It stops at the first step that would do its work, at a
request that is not accepted, or at a model the Task agent's review finds short of a target; the
agents then carry on from there, as after `resume`. When the report is written this way, the
conversation is not started at all, and the transcript says so.
"""

from __future__ import annotations

from trainer_agent.agents.run_state import Run
from trainer_agent.skills.pipeline import PIPELINE

ALL_REUSED = "every step reused from an earlier run, so the agents were not started"


def take_reused_steps(run: Run) -> bool:
    """Take the steps that are reused; True when the whole pipeline, report included, is done."""
    from trainer_agent.agents import review, tool_args
    from trainer_agent.agents.brains.offline_args import arguments
    from trainer_agent.agents.chat import OFFLINE_BRAIN
    from trainer_agent.agents.step_reuse import can_reuse
    from trainer_agent.agents.tools import make_tools

    if not run.options.reuse or run.options.llm != "offline" or run.state.get("chat"):
        return False
    tools = make_tools(run)
    for step in PIPELINE:
        given = arguments(run, step.name)
        if step.name != "report" and not can_reuse(run, step.name, tool_args.validate(step.name, given)):
            return False
        if step.name == "report":  # the report names the brain
            run.state["brain"] = f"{OFFLINE_BRAIN}; {ALL_REUSED}"
        run.transcript.event("tool_call_without_agents", step=step.name, tool=step.tool, arguments=given)
        answer = tools[step.tool](**given)
        if answer.startswith("Error") or not run.done(step.name):
            return False
        if not (run.state.get("reuse", {}).get(step.name) or {"reused": True}).get("reused"):
            return False  # it did its work after all (a kept file no longer matched)
        if step.name == "parse" and run.decision() != "accept":
            return False
        if step.name == "train" and review.unmet(run):
            return False  # the review and its remedies are the agents' work
    run.transcript.event("reused_without_agents", reason=ALL_REUSED)
    if run.log is not None:
        run.log(ALL_REUSED)
    return True
