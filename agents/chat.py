"""The group chat: `user`, the Task agent (hub) and three specialists, run by a GroupChatManager.

Tools are registered for the LLM on the agent that owns their step (`skills.pipeline`) and for
execution on `user`; the speaker-selection function wraps the pure `routing.next_speaker`. Every
message appended to the chat is written to the transcript as it happens, so a crash loses nothing.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainer_agent.agents import data, model, routing, server, task
from trainer_agent.agents.approvals import person_for
from trainer_agent.agents.brains.llm import LLMBrain
from trainer_agent.agents.person import register_reply
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.tools import make_tools
from trainer_agent.skills.pipeline import tools_of

AGENT_MODULES = (task, data, model, server)
MAX_ROUND = 80
OFFLINE_BRAIN = "offline planner (deterministic, no LLM configured)"

Renderer = Callable[[str, dict[str, Any]], None]


def plan_next(run: Run) -> str | None:
    """Who the plan says speaks next when the hub names no valid speaker: the owner of the first
    unfinished step of the pipeline."""
    step = run.next_step()
    return step.owner if step else None


class _QuietIO:
    """An AG2 IOStream that prints nothing: the transcript and our renderer show the chat."""

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        pass

    def send(self, message: Any) -> None:
        pass

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        return ""


@dataclass
class ChatOutcome:
    rounds: int
    last_speaker: str | None


def run_conversation(run: Run, render: Renderer | None = None, brain: str | None = None) -> ChatOutcome:
    """Run (or resume) the run's group chat until the Task agent ends it or a step fails.

    `brain`: "offline" (the deterministic planner), or an `--llm` value naming an LLM ("openai",
    "config:PATH"; see agents.brains.llm); default: the run's `options.llm`.
    """
    from autogen import GroupChat, GroupChatManager, UserProxyAgent
    from autogen.io import IOStream

    from trainer_agent.agents.brains.offline import OfflinePlanner

    logging.getLogger("autogen").setLevel(logging.WARNING)
    logging.getLogger("autogen.oai.client").setLevel(logging.ERROR)
    brain = brain or run.options.llm
    llm: Any = None  # the LLM brain, when one drives the agents
    llm_config: dict[str, Any] = {
        "config_list": [{"model": "offline-planner", "model_client_cls": "OfflinePlanner"}],
        "cache_seed": None,
    }
    if brain == "offline":
        run.state["brain"] = OFFLINE_BRAIN
    elif brain.startswith("replay:"):
        from trainer_agent.agents.brains.replay import ReplayBrain

        llm = ReplayBrain(run, brain.removeprefix("replay:"))
        run.state["brain"] = llm.description
    else:
        llm = LLMBrain(run, brain, render)
        run.state["brain"] = llm.description
    run.save()

    user = UserProxyAgent(
        "user",
        human_input_mode="NEVER",
        code_execution_config=llm.code_execution_config() if llm else False,
        llm_config=False,
        default_auto_reply="",
        description="The person who asked, and the executor of every tool.",
    )

    register_reply(user, run)  # in `trainer-agent chat` the person answers when the Task agent asks
    tools = make_tools(run)
    agents = {}
    for module in AGENT_MODULES:
        agent = module.make(llm.llm_config(module.NAME) if llm else llm_config)
        for tool_name in tools_of(module.NAME):
            fn = tools[tool_name]
            user.register_for_execution(name=tool_name)(
                agent.register_for_llm(name=tool_name, description=(fn.__doc__ or "").strip())(fn)
            )
        agents[module.NAME] = agent
    # Register the model client last: register_for_llm rebuilds the agent's client.
    if llm is None:
        for name, agent in agents.items():
            agent.register_model_client(model_client_cls=OfflinePlanner, agent_name=name, run=run)
    else:
        llm.attach(agents)

    def select(last_speaker: Any, groupchat: Any) -> Any:
        if run.fatal is not None:
            return None
        name = routing.next_speaker(groupchat.messages, plan_next(run))
        if llm is not None:
            name = llm.route(groupchat.messages, name, plan_next(run))
        return groupchat.agent_by_name(name) if name else None

    class RecordingGroupChat(GroupChat):  # type: ignore[misc]
        def append(self, message: dict[str, Any], speaker: Any) -> None:
            super().append(message, speaker)
            recorded = self.messages[-1]
            run.transcript.message(speaker.name, recorded)
            if render is not None:
                render(speaker.name, recorded)
            if llm is not None:
                llm.observe(speaker.name, recorded)

    groupchat = RecordingGroupChat(
        agents=[user, *agents.values()],
        messages=[],
        # chats (and their replays) have questions and changes
        max_round=4 * MAX_ROUND if person_for(run) or run.state.get("replaying_chat") else MAX_ROUND,
        speaker_selection_method=select,
    )
    manager = GroupChatManager(
        groupchat=groupchat,
        llm_config=False,
        is_termination_msg=lambda m: m.get("name") == routing.HUB and routing.is_termination(m),
    )
    with warnings.catch_warnings(), IOStream.set_default(_QuietIO()):
        warnings.simplefilter("ignore")
        stop_errors: tuple[type[BaseException], ...] = llm.stop_errors if llm else ()
        try:
            user.initiate_chat(manager, message=run.options.request, clear_history=True, silent=True)
        except stop_errors:
            pass  # an LLM budget, limit or failure ended the chat; the reason is on run.fatal
        finally:
            if llm is not None:
                llm.finish()
    last = groupchat.messages[-1]["name"] if groupchat.messages else None
    return ChatOutcome(rounds=len(groupchat.messages), last_speaker=last)
