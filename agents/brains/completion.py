"""What the local brains (offline planner, replay) hand to AG2: a real ChatCompletion, and the
rest of AG2's ModelClient protocol for a client that costs nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_message_function_tool_call import (
    ChatCompletionMessageFunctionToolCall,
    Function,
)
from openai.types.completion_usage import CompletionUsage


def completion(
    model: str, content: str | None, tool_calls: list[tuple[str | None, str, str]]
) -> ChatCompletion:
    """A ChatCompletion saying `content` and calling `tool_calls` ((id or None, name, JSON arguments))."""
    calls: list[Any] = [
        ChatCompletionMessageFunctionToolCall(
            id=call_id or "call_" + uuid.uuid4().hex[:12],
            type="function",
            function=Function(name=name, arguments=args),
        )
        for call_id, name, args in tool_calls
    ]
    message = ChatCompletionMessage(role="assistant", content=content, tool_calls=calls or None)
    return ChatCompletion(
        id=f"{model}-" + uuid.uuid4().hex[:12],
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, finish_reason="tool_calls" if calls else "stop", message=message)],
        usage=CompletionUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
    )


class FreeClient:
    """The parts of AG2's ModelClient protocol that are the same for every local brain."""

    MODEL_NAME = "local"

    def message_retrieval(self, response: ChatCompletion) -> list[Any]:
        return [c.message if c.message.tool_calls else c.message.content for c in response.choices]

    def cost(self, response: ChatCompletion) -> float:
        return 0.0

    @classmethod
    def get_usage(cls, response: ChatCompletion) -> dict[str, Any]:
        return {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "cost": 0.0,
            "model": cls.MODEL_NAME,
        }
