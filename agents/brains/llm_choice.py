"""Choosing and configuring the LLM brain: `choose(--llm value)` decides the brain before a run
starts (auto: the configured LLM when it answers, else the offline planner, and says why), and
`ag2_config` gives each agent AG2's own OpenAI `llm_config` (per-agent model overrides, priced).

    choice = choose("auto")        # BrainChoice(spec="offline", line="offline planner ...")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer_agent.agents.llm_config import LLMSettings, ModelSettings, configured, probe, settings_for
from trainer_agent.agents.transcript import add_secret, redact
from trainer_agent.skills.errors import UserError

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
