"""The LLM brain: any OpenAI-compatible model drives the four agents through AG2.

`choose(--llm value)` decides the brain before a run starts (auto: the configured LLM when it
answers, else the offline planner, and says why). `LLMBrain` wires a run's group chat to it:

- each agent gets AG2's own OpenAI `llm_config` (per-agent model overrides) and its tools;
- one gate around every agent's `client.create` counts calls, tokens and cost (`agents.usage`),
  enforces `--max-llm-calls`, `--max-cost` and the wall-clock budget, records each request (a
  hash) and response in the transcript, turns HTTP failures (after the openai client's retries
  with backoff) into one sentence, and checks the reply: tool calls must name the agent's own
  tools with valid arguments (repaired when possible, else sent back, a bounded number of times);
- a reply function on the Task agent checks each specialist's spec JSON (repaired, validated
  against the pydantic contract, compared with what the tool returned) and sends a bad one back
  with the error, at most MAX_SPEC_RETRIES times, before the Task agent's LLM is asked;
- routing additions: code blocks go to the `user` proxy, which runs them in the sandbox after
  approval and hands the output back to their author; a specialist named out of turn gives way
  to the plan; a hub that neither acts nor names a speaker is asked again (bounded);
- the cross-check: the Task agent's own reading of the request against `parse_request`'s.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainer_agent.agents import cross_check, routing
from trainer_agent.agents.json_repair import fenced_blocks, loads_lenient
from trainer_agent.agents.llm_config import LLMSettings, ModelSettings, configured, probe, settings_for
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.spec_check import MAX_SPEC_RETRIES, SPEC_OF, check_specialist_message, extract_json
from trainer_agent.agents.transcript import add_secret, redact
from trainer_agent.agents.usage import BudgetExceeded, Usage
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.pipeline import refusal, specialist_steps, tool_for

MAX_REPLY_RETRIES = 2  # an unusable reply (unknown tool, bad arguments, empty) is sent back this often
MAX_HUB_REPEATS = 3  # the hub may speak this many times in a row without acting
DEFAULT_MAX_SECONDS = 7200.0
CODE_TIMEOUT = 600.0
RUNNABLE = ("python", "py", "python3", "sh", "bash", "shell")
OFFLINE_LINE = "offline planner (deterministic, no LLM configured)"


class LLMError(UserError):
    """The LLM could not be used: wrong key, unreachable, timeouts, or unusable replies."""


class StopRun(Exception):
    """Raised inside the chat to end it at once; the reason is on `run.fatal`."""


# -- choosing the brain (CLI) ------------------------------------------------------------------
@dataclass
class BrainChoice:
    spec: str  # what RunOptions.llm records: "offline", "openai" or "config:/abs/path"
    line: str  # what the terminal says


def _spec_of(settings: LLMSettings) -> str:
    """The `--llm` value that finds these settings again on resume."""
    from pathlib import Path

    source = Path(settings.source)
    return f"config:{source.resolve()}" if source.is_file() else "openai"


def _unusable(settings: LLMSettings) -> str | None:
    """Why the configured endpoints cannot be used (each distinct server and key asked once)."""
    asked: set[tuple[Any, ...]] = set()
    for entry in settings.endpoints():
        try:
            server = (entry.base_url, entry.api_type, entry.key())
            why = None if server in asked else probe(entry)
        except UserError as err:
            return str(err).rstrip(".")
        asked.add(server)
        if why:
            return why
    return None


def choose(llm: str) -> BrainChoice:
    """Resolve `--llm` (auto, offline, openai, config:PATH). Raises UserError for an unusable choice."""
    if llm == "offline":
        return BrainChoice("offline", "offline planner (deterministic; --llm offline)")
    if llm.startswith("replay:"):  # agents.brains.replay: a recorded conversation, no LLM access
        return BrainChoice(llm, f"replay of {llm.removeprefix('replay:')}")
    if llm == "auto":
        settings = configured()
        if settings is None:
            nothing = "; --llm auto found no OAI_CONFIG_LIST nor TRAINER_AGENT_LLM_CONFIG"
            return BrainChoice("offline", OFFLINE_LINE + nothing)
        for entry in settings.endpoints():
            add_secret(_key_or_none(entry))
        why = _unusable(settings)
        if why:
            return BrainChoice("offline", f"offline planner, because {redact(why)} (--llm auto)")
        return BrainChoice(_spec_of(settings), settings.describe() + " (--llm auto)")
    settings = settings_for(llm)
    for entry in settings.endpoints():
        add_secret(_key_or_none(entry))
    why = _unusable(settings)
    if why:
        raise LLMError(redact(why) + ".")
    return BrainChoice(_spec_of(settings), settings.describe())


def _key_or_none(entry: ModelSettings) -> str | None:
    try:
        return entry.key()
    except UserError:
        return None


# -- configuration per agent -------------------------------------------------------------------
def price_of(entry: ModelSettings) -> tuple[float, float] | None:
    """The configured price, else AG2's table for known OpenAI models, else None (unpriced)."""
    if entry.price is not None:
        return entry.price
    from autogen.oai.openai_utils import OAI_PRICE1K

    known = OAI_PRICE1K.get(entry.model)
    if isinstance(known, tuple):
        return float(known[0]), float(known[1])
    if isinstance(known, (int, float)):
        return float(known), float(known)
    return None


def ag2_config(entry: ModelSettings) -> dict[str, Any]:
    """AG2's llm_config for one agent: an OpenAI config entry (no custom client)."""
    item: dict[str, Any] = {
        "model": entry.model,
        "api_key": entry.key(),
        "timeout": entry.timeout,
        "max_retries": entry.max_retries,
        # Always priced: AG2 warns on every call for a model it does not know otherwise.
        "price": list(price_of(entry) or (0.0, 0.0)),
    }
    if entry.base_url:
        item["base_url"] = entry.base_url
    if entry.api_type == "azure":
        item.update(api_type="azure", api_version=entry.api_version)
    if entry.temperature is not None:
        item["temperature"] = entry.temperature
    if entry.max_tokens is not None:
        item["max_tokens"] = entry.max_tokens
    return {"config_list": [item], "cache_seed": None}


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


def first_difference(theirs: Any, ours: Any, path: str = "") -> str | None:
    """Where the JSON an agent sent contradicts the tool's result.

    Keys it left out, and items missing at the end of a list, are omissions, not contradictions;
    numbers may be rounded (relative 1e-3).
    """
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for key, value in theirs.items():
            if key not in ours:
                continue  # the pydantic contract already rejects unknown fields where it matters
            found = first_difference(value, ours[key], f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(theirs) > len(ours):  # fewer is a shortened list, like a left-out key
            return f"{path} has {len(theirs)} items, the tool returned {len(ours)}"
        for i, (a, b) in enumerate(zip(theirs, ours, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    numbers = (int, float)
    if isinstance(theirs, numbers) and isinstance(ours, numbers) and not isinstance(theirs, bool):
        if math.isclose(float(theirs), float(ours), rel_tol=1e-3, abs_tol=1e-6):
            return None
    elif theirs == ours:
        return None
    return f"{path} is {json.dumps(theirs)} but the tool returned {json.dumps(ours)}"


def tool_result_spec(run: Run, agent: str) -> dict[str, Any] | None:
    """The spec the agent's tools returned, in the form its report must carry."""
    if agent == "server_agent":
        served = run.result("serve") or {}
        return {"export": run.result("export"), "deployment": served if "url" in served else None}
    step = specialist_steps(agent)[0]
    result = run.result(step)
    return result if isinstance(result, dict) else None


def spec_problem(run: Run, agent: str, content: Any) -> tuple[str | None, list[str]]:
    """(what is wrong with the specialist's report or None, the JSON repairs that were needed)."""
    missing = [s for s in specialist_steps(agent) if not run.done(s)]
    name = SPEC_OF[agent].__name__
    if missing:
        tool = tool_for(missing[0])
        return f"{agent}: call {tool} first, then report with its result as your {name} JSON.", []
    problem = check_specialist_message(agent, content)
    if problem:
        return f"{problem} Send the corrected JSON.", []
    text = content if isinstance(content, str) else ""
    theirs = extract_json(text)
    try:
        _, repairs = loads_lenient(text)
    except ValueError:
        repairs = []
    ours = tool_result_spec(run, agent)
    diff = first_difference(theirs, ours) if ours is not None else None
    if diff:
        return (
            f"{agent}: your {name} JSON does not match the tool's result: {diff}. Copy it unchanged.",
            repairs,
        )
    return None, [r for r in repairs if r not in ("code fence", "surrounding text")]


def _has_code(content: Any) -> bool:
    return isinstance(content, str) and any(lang in RUNNABLE for lang, _ in fenced_blocks(content))


def _request_hash(params: dict[str, Any], model: str, tools: list[Any]) -> str:
    payload = {"model": model, "messages": params.get("messages"), "tools": tools}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- the brain ---------------------------------------------------------------------------------
class LLMBrain:
    """Everything the LLM path adds to a run's group chat; see the module docstring."""

    def __init__(self, run: Run, spec: str, render: Callable[[str, dict[str, Any]], None] | None = None):
        self.run = run
        self.settings = settings_for(spec)
        for entry in self.settings.endpoints():
            add_secret(entry.key())  # also validates that every key is there
        self.description = self.settings.describe()
        self.render = render
        opts = run.options
        self.usage = Usage(
            run.state.setdefault("llm_usage", {}),
            getattr(opts, "max_llm_calls", None),
            getattr(opts, "max_cost", None),
        )
        self.max_seconds = float(getattr(opts, "max_seconds", None) or DEFAULT_MAX_SECONDS)
        self.deadline = time.monotonic() + self.max_seconds
        self.executor = ApprovedCodeExecutor(run)
        self._code_from: str | None = None
        self._hub_repeats = 0
        self.stop_errors: tuple[type[BaseException], ...] = (StopRun,)

    # configuration ---------------------------------------------------------------------------
    def llm_config(self, agent_name: str) -> dict[str, Any]:
        return ag2_config(self.settings.for_agent(agent_name))

    def code_execution_config(self) -> dict[str, Any]:
        return {"executor": self.executor, "last_n_messages": 1}

    def attach(self, agents: dict[str, Any]) -> None:
        """After tools are registered (that rebuilds each client): gate every client, guard the hub."""
        from autogen import Agent

        for name, agent in agents.items():
            self._gate(name, agent)
        agents[routing.HUB].register_reply([Agent, None], self._hub_guard, position=0)

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
    def _gate(self, name: str, agent: Any) -> None:
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
        digest = _request_hash(params, entry.model, tools)
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

    def _declined(self) -> bool:
        parsed = self.run.result("parse") if self.run.done("parse") else None
        return isinstance(parsed, dict) and parsed.get("decision") != "accept"

    def _not_yet(self, tool: str) -> str | None:
        """Why `tool` cannot run now (a step it needs has not finished), else None."""
        return refusal(tool, self.run.done_steps(), self.run.decision())

    # the hub's guard: specialists' specs -----------------------------------------------------
    def _hub_guard(self, recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        if self.run.fatal is not None:
            return True, f"Stopping: {self.run.fatal}\n{routing.TERMINATE}"
        last = messages[-1] if messages else {}
        who = last.get("name")
        if who not in routing.SPECIALISTS or last.get("tool_calls"):
            return False, None
        problem, repairs = spec_problem(self.run, who, last.get("content"))
        if problem is None:
            if repairs:
                self.run.transcript.event("spec_repaired", agent=who, repairs=repairs)
            return False, None
        retries = self.run.state.setdefault("spec_retries", {})
        retries[who] = retries.get(who, 0) + 1
        self.run.save()
        self.run.transcript.event("spec_rejected", agent=who, problem=problem, attempt=retries[who])
        if retries[who] <= MAX_SPEC_RETRIES:
            return True, f"{problem}\nNEXT: {who}"
        self.run.fatal = LLMError(
            f"{who} sent an unusable report {MAX_SPEC_RETRIES + 1} times; the last: {problem}"
        )
        return True, f"Stopping: {self.run.fatal}\n{routing.TERMINATE}"

    # routing additions -----------------------------------------------------------------------
    def route(self, messages: list[dict[str, Any]], proposed: str | None, plan: str | None) -> str | None:
        """Adjust the pure routing decision for what only the LLM path has (see module docstring)."""
        if self.run.fatal is not None:
            return None
        who = proposed or "the next speaker"
        try:
            self._check_time(who)
        except StopRun:
            return None
        if not messages:
            return proposed
        last = messages[-1]
        speaker = last.get("name") or routing.EXECUTOR
        is_result = bool(last.get("tool_responses")) or last.get("role") == "tool"
        if self._code_from and speaker == routing.EXECUTOR and not is_result:
            author, self._code_from = self._code_from, None
            return author
        wrote_code = (
            speaker != routing.EXECUTOR and not last.get("tool_calls") and _has_code(last.get("content"))
        )
        if wrote_code and not routing.is_termination(last):
            self._code_from = self.executor.author = speaker
            return routing.EXECUTOR
        if speaker != routing.HUB:
            self._hub_repeats = 0
            return proposed
        if self._declined():  # no specialist has work: the hub reports and ends
            plan = None if self.run.done("report") else routing.HUB
        if proposed in routing.SPECIALISTS and proposed != plan:
            ready = not self._declined() and all(self.run.done(s) for s in specialist_steps(proposed))
            if not ready:
                self.run.transcript.event(
                    "routing", named=proposed, chosen=plan, why="out of the plan's order"
                )
                proposed = plan
        if proposed == routing.HUB or (
            proposed is None and plan is not None and not routing.is_termination(last)
        ):
            self._hub_repeats += 1
            if self._hub_repeats > MAX_HUB_REPEATS:
                self.run.fatal = LLMError(
                    f"the Task agent's model spoke {MAX_HUB_REPEATS + 1} times in a row without calling a "
                    "tool or naming the next agent."
                )
                return None
            return routing.HUB
        self._hub_repeats = 0
        return proposed

    # the cross-check -------------------------------------------------------------------------
    def observe(self, speaker: str, message: dict[str, Any]) -> None:
        """Called for every message appended to the chat."""
        state = self.run.state
        if speaker == routing.HUB and "llm_reading" not in state:
            reading = cross_check.reading_of(message.get("content"))
            if reading is not None:
                state["llm_reading"] = reading
                self.run.save()
        if "cross_check" in state or "llm_reading" not in state or not self.run.done("parse"):
            return
        disagreements = cross_check.compare(self.run.result("parse"), state["llm_reading"])
        state["cross_check"] = {
            "agree": not disagreements,
            "disagreements": disagreements,
            "llm_reading": state["llm_reading"],
            "used": "the parser's spec (spec.json)",
        }
        self.run.save()
        self.run.transcript.event("cross_check", **state["cross_check"])
        if self.render is not None:
            text = (
                "the LLM's reading of the request agrees with the parser."
                if not disagreements
                else "the LLM and the parser read the request differently (the run uses the parser's spec):\n"
                + "\n".join(f"- {d}" for d in disagreements)
            )
            self.render("cross-check", {"content": text})

    # the end ---------------------------------------------------------------------------------
    def finish(self) -> None:
        """Record the final usage (calls after write_report included) in the state and the report."""
        summary = self.usage.summary()
        self.run.state["llm_usage"] = self.usage.record
        self.run.save()
        self.run.transcript.event("llm_usage", **summary)
        report_path = self.run.run_dir / "report.json"
        if report_path.exists():
            from trainer_agent.skills.report import write_report
            from trainer_agent.skills.specs import RunReport

            report = RunReport.model_validate_json(report_path.read_text(encoding="utf-8"))
            report.llm_usage = summary
            report.cross_check = dict(self.run.state.get("cross_check") or {})
            write_report(self.run.run_dir, report)
        if self.render is not None:
            self.render("llm", {"content": self.usage.line()})


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
    import uuid

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


class ApprovedCodeExecutor:
    """An AG2 CodeExecutor for the `user` proxy: python/sh blocks run in the run's sandbox after approval.

    Other blocks (the ```json of a spec) are not code and are left alone. The sandbox is the run's
    (created on first use), so LLM-written code gets the same isolation and limits as jobs.
    """

    def __init__(self, run: Run, timeout: float = CODE_TIMEOUT) -> None:
        self.run = run
        self.timeout = timeout
        self.author: str | None = None

    @property
    def code_extractor(self) -> Any:
        from autogen.coding.markdown_code_extractor import MarkdownCodeExtractor

        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[Any]) -> Any:
        from autogen.coding.base import CommandLineCodeResult

        from trainer_agent.agents.approvals import approve

        blocks = [b for b in code_blocks if b.language.lower().strip() in RUNNABLE]
        if not blocks:
            return CommandLineCodeResult(exit_code=0, output="no python or sh code block to run")
        first = next((line for line in blocks[0].code.splitlines() if line.strip()), "")[:80]
        who = self.author or "an agent"
        description = f"run {len(blocks)} code block(s) written by {who} in the sandbox (starting: {first})"
        if not approve(self.run, "execute_code", description):
            self.run.transcript.event("code_denied", author=who, blocks=len(blocks))
            return CommandLineCodeResult(
                exit_code=1, output="not run: running this code was not approved (--approve)."
            )
        from trainer_agent.agents.sandbox_jobs import sandbox_for
        from trainer_agent.sandbox.ag2 import SandboxCodeExecutor

        result = SandboxCodeExecutor(sandbox_for(self.run), timeout=self.timeout).execute_code_blocks(blocks)
        self.run.transcript.event(
            "code_executed",
            author=who,
            exit_code=result.exit_code,
            file=result.code_file,
            output=result.output[-2000:],
        )
        return result

    def restart(self) -> None:
        """Nothing to reset: every block runs as a fresh process."""
