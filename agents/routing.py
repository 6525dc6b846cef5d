"""Who speaks next: a pure function over the chat's messages, unit-tested without AG2.

The Task agent is the hub. A tool call goes to the executor (`user`), a tool result goes back to
the agent that called the tool, every specialist reports back to the Task agent, and the Task
agent names the next speaker with a line `NEXT: <agent>`. A named speaker is accepted only if
the transition is allowed; otherwise the Task agent's plan decides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from trainer_agent.skills.pipeline import HUB, SPECIALISTS

EXECUTOR = "user"
AGENT_NAMES = (EXECUTOR, HUB, *SPECIALISTS)

# Allowed transitions: speaker -> who may speak after it. `None` ends the chat.
ALLOWED: dict[str, frozenset[str | None]] = {
    EXECUTOR: frozenset({HUB, *SPECIALISTS}),  # the person answers the hub; tool results go to their caller
    HUB: frozenset({EXECUTOR, *SPECIALISTS, None}),  # executes its own tools, delegates, asks, or ends
    **{name: frozenset({EXECUTOR, HUB}) for name in SPECIALISTS},  # run tools, then report back
}

_NEXT = re.compile(r"^\s*NEXT:\s*([a-z_]+)\s*$", re.MULTILINE | re.IGNORECASE)
TERMINATE = "TERMINATE"


def is_allowed(speaker: str, nxt: str | None) -> bool:
    return nxt in ALLOWED.get(speaker, frozenset())


def is_termination(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, str) and content.rstrip().endswith(TERMINATE)


def named_next(content: Any) -> str | None:
    """The agent named in the last `NEXT: name` line of a message, if any."""
    if not isinstance(content, str):
        return None
    found = _NEXT.findall(content)
    return found[-1].lower() if found else None


def _is_tool_result(message: dict[str, Any]) -> bool:
    return bool(message.get("tool_responses")) or message.get("role") == "tool"


def _tool_caller(messages: Sequence[dict[str, Any]]) -> str | None:
    for message in reversed(messages):
        if message.get("tool_calls"):
            return message.get("name")
    return None


def next_speaker(messages: Sequence[dict[str, Any]], plan_next: str | None) -> str | None:
    """Return the name of the next speaker, or None to end the chat.

    Args:
        messages: the group chat's messages so far, each with the speaker's `name`.
        plan_next: who the Task agent's plan says goes next when the hub has spoken without
            naming a valid speaker (None: the plan is finished).
    """
    if not messages:
        return HUB
    last = messages[-1]
    speaker = last.get("name") or EXECUTOR
    if last.get("tool_calls"):
        nxt: str | None = EXECUTOR
    elif _is_tool_result(last):
        nxt = _tool_caller(messages[:-1])
    elif speaker == EXECUTOR or speaker in SPECIALISTS:
        nxt = HUB
    elif is_termination(last):
        nxt = None
    else:
        named = named_next(last.get("content"))
        nxt = named if named in AGENT_NAMES and is_allowed(speaker, named) else plan_next
    if not is_allowed(speaker, nxt):
        nxt = plan_next if is_allowed(speaker, plan_next) else None
    return nxt
