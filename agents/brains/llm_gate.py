"""The gate around every agent's `client.create` on the LLM path: it counts calls, tokens and cost
(`agents.usage`), enforces `--max-llm-calls`, `--max-cost` and the wall-clock budget, records each
request (a hash) and response in the transcript, turns HTTP failures (after the openai client's
retries with backoff) into one sentence, and checks the reply: tool calls must name the agent's
own tools with valid arguments, at a step whose prerequisites are done (repaired when possible,
else sent back, at most MAX_REPLY_RETRIES times).

`Gate` is a base of `agents.brains.llm.LLMBrain`; `gate(name, agent)` wraps one agent's client.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from trainer_agent.agents.brains.llm_choice import LLMError, StopRun, price_of
from trainer_agent.agents.json_repair import loads_lenient
from trainer_agent.agents.llm_config import LLMSettings, ModelSettings
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.transcript import redact
from trainer_agent.agents.usage import BudgetExceeded, Usage
from trainer_agent.skills.pipeline import refusal

MAX_REPLY_RETRIES = 2  # an unusable reply (unknown tool, bad arguments, empty) is sent back this often


class Gate:
    """Stopping, the budgets and the reply checks; the brain sets these attributes."""

    run: Run
    settings: LLMSettings
    usage: Usage
    max_seconds: float
    deadline: float

    # stopping --------------------------------------------------------------------------------
    def _stop(self, err: Exception) -> None:
        self.run.fatal = err
        self.run.transcript.event("llm_stop", error=str(err))
        self.run.save()
        raise StopRun(str(err))

    def _check_time(self, who: str) -> None:
        if time.monotonic() > self.deadline and self.run.fatal is None:
            self._stop(
                LLMError(
                    f"stopped before {who}'s next turn: the conversation ran past its wall-clock budget "
                    f"of {self.max_seconds:g} s."
                )
            )

    # the gate around each agent's client -----------------------------------------------------
    def gate(self, name: str, agent: Any) -> None:
        client = agent.client
        original = client.create
        entry = self.settings.for_agent(name)
        tools = list((agent.llm_config or {}).get("tools") or [])
        offered = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools}

        def create(**params: Any) -> Any:
            messages = list(params.get("messages") or [])
            problem = ""
            for _ in range(MAX_REPLY_RETRIES + 1):
                response = self._call(name, entry, tools, original, {**params, "messages": messages})
                problem, fixes = self._check_reply(response, offered)
                if not problem:
                    if fixes:
                        self.run.transcript.event("llm_reply_repaired", agent=name, repairs=fixes)
                    return response
                self.run.transcript.event("llm_reply_rejected", agent=name, problem=problem)
                messages = messages + _feedback(response, problem)
            self._stop(
                LLMError(
                    f"{name}'s model sent {MAX_REPLY_RETRIES + 1} unusable replies; the last: {problem}."
                )
            )

        client.create = create

    def _call(
        self, name: str, entry: ModelSettings, tools: list[Any], original: Any, params: dict[str, Any]
    ) -> Any:
        if self.run.fatal is not None:
            raise StopRun(str(self.run.fatal))
        self._check_time(name)
        try:
            self.usage.check(name)
        except BudgetExceeded as err:
            self._stop(err)
        digest = request_hash(params, entry.model, tools)
        self.run.transcript.write(
            {
                "type": "llm_request",
                "agent": name,
                "model": entry.model,
                "request_hash": digest,
                "messages": len(params.get("messages") or []),
                "tools": [t["function"]["name"] for t in tools],
            }
        )
        t0 = time.perf_counter()
        try:
            response = original(**params)
        except Exception as err:
            sentence = describe_llm_error(err, entry, name)
            if sentence is None:
                raise
            self.run.transcript.event("llm_error", agent=name, error=sentence, error_type=type(err).__name__)
            self._stop(LLMError(sentence))
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = self.usage.add(name, entry.model, prompt, completion, price_of(entry))
        self.run.save()
        message = response.choices[0].message if response.choices else None
        self.run.transcript.write(
            {
                "type": "llm_response",
                "agent": name,
                "model": getattr(response, "model", entry.model),
                "request_hash": digest,
                "content": getattr(message, "content", None),
                "tool_calls": [
                    {"name": c.function.name, "arguments": c.function.arguments}
                    for c in (getattr(message, "tool_calls", None) or [])
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
                "cost": cost,
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        return response

    def _check_reply(self, response: Any, offered: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
        """('', repairs) when the reply is usable (repaired in place), else (the problem, [])."""
        if not response.choices:
            return "your reply had no message", []
        message = response.choices[0].message
        fixes: list[str] = []
        if not message.tool_calls and offered:
            as_call = _text_tool_call(message.content, offered)
            if as_call is not None:
                message.tool_calls, message.content = [as_call], None
                fixes.append("tool call written as text")
        if message.tool_calls:
            for call in message.tool_calls:
                fn = call.function
                if fn.name not in offered:
                    yours = ", ".join(offered) or "none"
                    return f"{fn.name} is not one of your tools (yours: {yours})", []
                raw = (fn.arguments or "").strip()
                args: Any
                if raw in ("", "null"):
                    args, repairs = {}, ["empty arguments"]
                else:
                    try:
                        args, repairs = loads_lenient(raw)
                    except ValueError as err:
                        return f"the arguments of {fn.name} are not valid JSON ({err})", []
                problem = check_arguments(fn.name, args, offered[fn.name]) or self._not_yet(fn.name)
                if problem:
                    return problem, []
                if repairs:
                    fn.arguments = json.dumps(args)
                    fixes += [f"{fn.name} arguments: {r}" for r in repairs]
            return "", fixes
        if not (message.content or "").strip():
            return "your reply was empty: call one of your tools or write your message", []
        return "", fixes

    def _not_yet(self, tool: str) -> str | None:
        """Why `tool` cannot run now (a step it needs has not finished), else None."""
        return refusal(tool, self.run.done_steps(), self.run.decision())


# -- checks on replies and specs ---------------------------------------------------------------
_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def check_arguments(tool: str, args: Any, schema: dict[str, Any]) -> str | None:
    """None when `args` fit the tool's JSON schema (names, required, basic types)."""
    if not isinstance(args, dict):
        return f"the arguments of {tool} must be a JSON object"
    props = schema.get("properties") or {}
    unknown = sorted(set(args) - set(props))
    if unknown:
        accepted = ", ".join(props) or "none"
        return f"{tool} takes no argument {unknown[0]!r} (it accepts: {accepted})"
    missing = sorted(set(schema.get("required") or []) - set(args))
    if missing:
        return f"{tool} needs the argument {missing[0]!r}"
    for key, value in args.items():
        expected = _TYPES.get(str(props[key].get("type")))
        if expected and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
            return f"the argument {key!r} of {tool} must be of type {props[key]['type']}"
    return None


def request_hash(params: dict[str, Any], model: str, tools: list[Any]) -> str:
    """The 16-hex hash of a request that the transcript records instead of its messages."""
    payload = {"model": model, "messages": params.get("messages"), "tools": tools}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def describe_llm_error(err: BaseException, entry: ModelSettings, agent: str) -> str | None:
    """One sentence for an LLM call that failed after the client's retries; None for a bug."""
    import openai

    base = (entry.base_url or "https://api.openai.com/v1").rstrip("/")
    tries = entry.max_retries + 1
    if isinstance(err, (TimeoutError, openai.APITimeoutError)):
        return f"the LLM server at {base} did not answer {agent} within {entry.timeout:g} s ({tries} tries)."
    if isinstance(err, openai.APIConnectionError):
        return f"the LLM server at {base} cannot be reached ({tries} tries)."
    if isinstance(err, (openai.AuthenticationError, openai.PermissionDeniedError)):
        env = f": check {entry.api_key_env}" if entry.api_key_env else ""
        return f"the LLM server at {base} rejected the api key (HTTP {err.status_code}){env}."
    if isinstance(err, openai.RateLimitError):
        return f"the LLM server at {base} kept answering 429 (rate limit) to {agent} after {tries} tries."
    if isinstance(err, openai.InternalServerError):
        return f"the LLM server at {base} kept failing with HTTP {err.status_code} after {tries} tries."
    if isinstance(err, openai.NotFoundError):
        return (
            f"the LLM server at {base} has no model {entry.model!r} or no chat completions route (HTTP 404)."
        )
    if isinstance(err, openai.APIStatusError):
        detail = redact(str(getattr(err, "message", err)))[:200]
        return f"the LLM server at {base} refused {agent}'s request (HTTP {err.status_code}): {detail}."
    if isinstance(err, ValueError) and "agent name" in str(err):
        return f"the LLM server at {base} refused the agent name {agent!r}."
    return None


def _feedback(response: Any, problem: str) -> list[dict[str, Any]]:
    """What the model sees after an unusable reply: its reply, then the error."""
    message = response.choices[0].message if response.choices else None
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        assistant = {
            "role": "assistant",
            "content": getattr(message, "content", None),
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in calls
            ],
        }
        results = [{"role": "tool", "tool_call_id": c.id, "content": f"Error: {problem}."} for c in calls]
        return [assistant, *results]
    said = (
        [{"role": "assistant", "content": message.content}] if message is not None and message.content else []
    )
    return [*said, {"role": "user", "content": f"Error: {problem}. Try again."}]


def _text_tool_call(content: Any, offered: dict[str, Any]) -> Any:
    """A tool call a model wrote as text (`{"name": ..., "arguments": {...}}`), as a real one."""
    if not isinstance(content, str) or '"name"' not in content.replace("'", '"'):
        return None
    try:
        value, _ = loads_lenient(content)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("name") not in offered:
        return None
    if not set(value) <= {"name", "arguments", "parameters"}:
        return None

    from openai.types.chat.chat_completion_message_function_tool_call import (
        ChatCompletionMessageFunctionToolCall,
        Function,
    )

    args = value.get("arguments", value.get("parameters")) or {}
    return ChatCompletionMessageFunctionToolCall(
        id="call_" + uuid.uuid4().hex[:12],
        type="function",
        function=Function(name=value["name"], arguments=args if isinstance(args, str) else json.dumps(args)),
    )
