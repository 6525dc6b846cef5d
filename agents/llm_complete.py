"""One-prompt completions from a configured LLM, for skills that take a `complete(prompt) -> str`
callable (LLM annotation). Usage and cost are counted; the API key never leaves the client.

    complete = Completer(settings_for("openai").for_agent("data_agent"))
    answer = complete("Label each item ...")
    complete.usage   # {"calls": 1, "prompt_tokens": 812, "completion_tokens": 90, "cost_usd": 0.0002}
"""

from __future__ import annotations

from typing import Any

from trainer_agent.agents.llm_config import OPENAI_URL, ModelSettings
from trainer_agent.agents.usage import cost_of
from trainer_agent.skills.errors import UserError


class Completer:
    """A callable over an OpenAI-compatible chat endpoint (retries and timeout from the settings)."""

    def __init__(self, settings: ModelSettings, system: str | None = None) -> None:
        import openai

        self.settings = settings
        self.system = system  # a system message before each prompt (who is asking), or none
        self.usage: dict[str, Any] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
        self._client = openai.OpenAI(
            api_key=settings.key(),
            base_url=settings.base_url or OPENAI_URL,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )

    def __call__(self, prompt: str) -> str:
        import openai

        request: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [
                *([{"role": "system", "content": self.system}] if self.system else []),
                {"role": "user", "content": prompt},
            ],
            "temperature": self.settings.temperature if self.settings.temperature is not None else 0.0,
        }
        if self.settings.max_tokens:
            request["max_tokens"] = self.settings.max_tokens
        try:
            answer = self._client.chat.completions.create(**request)
        except openai.APIStatusError as err:
            raise UserError(
                f"the LLM at {self.settings.where()} answered HTTP {err.status_code}; nothing more was sent."
            ) from None
        except openai.APIError as err:
            raise UserError(
                f"the LLM at {self.settings.where()} could not be used ({type(err).__name__})."
            ) from None
        self.usage["calls"] += 1
        if answer.usage is not None:
            prompt_tokens, completion_tokens = answer.usage.prompt_tokens, answer.usage.completion_tokens
            self.usage["prompt_tokens"] += prompt_tokens
            self.usage["completion_tokens"] += completion_tokens
            self.usage["cost_usd"] += cost_of(prompt_tokens, completion_tokens, self.settings.price)
        return answer.choices[0].message.content or ""
