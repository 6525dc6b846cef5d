"""Which LLM each agent talks to: `configs/llm.yaml`, an AG2 `OAI_CONFIG_LIST`, or OpenAI's env vars.

Any OpenAI-compatible endpoint works (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server).
Where a configuration comes from, in the order `--llm auto` and `--llm openai` look:

1. `OAI_CONFIG_LIST`: an environment variable holding the JSON list itself or a file path, or a
   file of that name in the current directory (AG2's usual form; an entry whose `tags` name an
   agent, e.g. `"tags": ["data_agent"]`, is that agent's override);
2. `TRAINER_AGENT_LLM_CONFIG`: a path to a YAML file like `configs/llm.yaml`;
3. only for `--llm openai`: `OPENAI_API_KEY` (+ `OPENAI_BASE_URL`, `OPENAI_MODEL`).

`--llm config:PATH` reads PATH (YAML, or JSON in either form). API keys are read from the
environment (`api_key_env`); they are never written anywhere, and never part of `describe()`.
This module is light (no autogen import): the CLI resolves `--llm` with it before a run starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from trainer_agent.skills.errors import UserError

AGENT_NAMES = ("task_agent", "data_agent", "model_agent", "server_agent")
KEYLESS = "EMPTY"  # what local servers (vLLM, llama.cpp, Ollama) accept when they check no key
OPENAI_URL = "https://api.openai.com/v1"


class ModelSettings(BaseModel):
    """One endpoint and model, with its request settings and prices."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    base_url: str | None = Field(default=None, description="must end in /v1 for OpenAI-compatible servers")
    api_key_env: str | None = Field(default=None, description="environment variable holding the key")
    api_key: SecretStr | None = Field(default=None, description="a literal key (OAI_CONFIG_LIST only)")
    api_type: Literal["openai", "azure"] = "openai"
    api_version: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    timeout: float = Field(default=60.0, gt=0, description="seconds per request")
    max_retries: int = Field(default=3, ge=0, description="retries of 429, 5xx, timeouts (backoff)")
    max_tokens: int | None = Field(default=None, gt=0)
    price: tuple[float, float] | None = Field(default=None, description="USD per 1k prompt/completion tokens")

    def key(self) -> str:
        """The API key, from the literal or the named environment variable."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            value = os.environ.get(self.api_key_env, "")
            if not value:
                raise UserError(
                    f"the LLM config for model {self.model!r} reads its api key from the environment "
                    f"variable {self.api_key_env}, which is not set."
                )
            return value
        return KEYLESS

    def where(self) -> str:
        return f"{self.model} at {self.base_url or OPENAI_URL}"


class LLMSettings(BaseModel):
    """The default model and each agent's (merged) override, and where they came from."""

    default: ModelSettings
    agents: dict[str, ModelSettings] = Field(default_factory=dict)
    source: str

    def for_agent(self, name: str) -> ModelSettings:
        return self.agents.get(name, self.default)

    def endpoints(self) -> list[ModelSettings]:
        """Every distinct model setting in use, the default first."""
        seen: list[ModelSettings] = []
        for entry in [self.default, *self.agents.values()]:
            if entry not in seen:
                seen.append(entry)
        return seen

    def describe(self) -> str:
        """One line for the terminal and the report: model(s), endpoint, source. Never the key."""
        others = [f"{name}: {entry.model}" for name, entry in self.agents.items() if entry != self.default]
        extra = f"; {', '.join(others)}" if others else ""
        return f"LLM {self.default.where()}{extra} (from {self.source})"


# -- loading -----------------------------------------------------------------------------------
def _model(data: dict[str, Any], where: str) -> ModelSettings:
    if "price" in data and isinstance(data["price"], (int, float)):
        data = {**data, "price": (data["price"], data["price"])}
    try:
        return ModelSettings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise UserError(f"{where}: invalid LLM setting '{field}': {first['msg']}.") from None


def from_mapping(data: Any, source: str) -> LLMSettings:
    """The YAML form: `default:` plus optional `agents: {name: overrides}`; or a flat default."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping with 'default' (and optionally 'agents').")
    if "default" not in data:
        data = {"default": {k: v for k, v in data.items() if k != "agents"}, "agents": data.get("agents")}
    unknown = set(data) - {"default", "agents"}
    if unknown:
        raise UserError(
            f"{source}: unknown top-level key {sorted(unknown)[0]!r}; use 'default' and 'agents'."
        )
    default = _model(dict(data["default"] or {}), source)
    agents: dict[str, ModelSettings] = {}
    for name, override in (data.get("agents") or {}).items():
        if name not in AGENT_NAMES:
            raise UserError(
                f"{source}: unknown agent {name!r} under 'agents'; use one of {', '.join(AGENT_NAMES)}."
            )
        merged = {**default.model_dump(exclude_unset=True), **dict(override or {})}
        if "api_key" in merged and isinstance(merged["api_key"], SecretStr):
            merged["api_key"] = merged["api_key"].get_secret_value()
        agents[name] = _model(merged, f"{source} (agents.{name})")
    return LLMSettings(default=default, agents=agents, source=source)


def from_config_list(entries: Any, source: str) -> LLMSettings:
    """AG2's OAI_CONFIG_LIST: entries tagged with an agent name are that agent's model."""
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise UserError(f"{source}: an OAI_CONFIG_LIST must be a non-empty JSON list of objects.")
    tagged: dict[str, ModelSettings] = {}
    untagged: list[ModelSettings] = []
    for i, entry in enumerate(entries):
        tags = [t for t in entry.get("tags") or [] if isinstance(t, str)]
        settings = _model({k: v for k, v in entry.items() if k != "tags"}, f"{source} (entry {i})")
        names = [t for t in tags if t in AGENT_NAMES]
        for name in names:
            tagged.setdefault(name, settings)
        if not names:
            untagged.append(settings)
    default = untagged[0] if untagged else next(iter(tagged.values()))
    return LLMSettings(default=default, agents=tagged, source=source)


def load_file(path: str | Path) -> LLMSettings:
    """A YAML or JSON file in either form."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"the LLM config file '{path}' does not exist.")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UserError(
                f"the LLM config file '{path}' is not valid YAML: {str(err).splitlines()[0]}."
            ) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(
                f"the LLM config file '{path}' is not valid JSON ({err.msg}, line {err.lineno})."
            ) from None
    if isinstance(data, list):
        return from_config_list(data, str(path))
    return from_mapping(data, str(path))


def configured(env: dict[str, str] | None = None, cwd: Path | None = None) -> LLMSettings | None:
    """The LLM the environment configures (OAI_CONFIG_LIST or TRAINER_AGENT_LLM_CONFIG), if any."""
    env = dict(os.environ) if env is None else env
    cwd = cwd or Path.cwd()
    value = env.get("OAI_CONFIG_LIST", "").strip()
    if value.startswith("["):
        try:
            entries = json.loads(value)
        except json.JSONDecodeError as err:
            raise UserError(
                f"the OAI_CONFIG_LIST environment variable is not valid JSON ({err.msg})."
            ) from None
        return from_config_list(entries, "the OAI_CONFIG_LIST environment variable")
    if value:
        return load_file(value)
    if env.get("TRAINER_AGENT_LLM_CONFIG"):
        return load_file(env["TRAINER_AGENT_LLM_CONFIG"])
    if (cwd / "OAI_CONFIG_LIST").is_file():
        return load_file(cwd / "OAI_CONFIG_LIST")
    return None


def openai_from_env(env: dict[str, str] | None = None) -> LLMSettings | None:
    env = dict(os.environ) if env is None else env
    if not env.get("OPENAI_API_KEY"):
        return None
    default = ModelSettings(
        model=env.get("OPENAI_MODEL") or "gpt-4o-mini",
        base_url=env.get("OPENAI_BASE_URL") or OPENAI_URL,
        api_key_env="OPENAI_API_KEY",
    )
    return LLMSettings(default=default, source="the OPENAI_API_KEY environment")


def settings_for(spec: str) -> LLMSettings:
    """The settings an `--llm` value (other than offline/auto) names."""
    if spec.startswith("config:"):
        path = spec.removeprefix("config:").strip()
        if not path:
            raise UserError("--llm config:PATH needs a path, e.g. --llm config:configs/llm.yaml.")
        return load_file(path)
    if spec == "openai":
        found = configured() or openai_from_env()
        if found is None:
            raise UserError(
                "--llm openai needs an OAI_CONFIG_LIST, TRAINER_AGENT_LLM_CONFIG or OPENAI_API_KEY; "
                "none is set."
            )
        return found
    raise UserError(f"--llm must be auto, offline, openai or config:PATH, not {spec!r}.")


def probe(entry: ModelSettings, timeout: float = 5.0) -> str | None:
    """None when the endpoint answers and accepts the key, else why not (one clause, no key in it).

    Asks GET {base_url}/models, which costs nothing; a server without that route (404) still
    counts as reachable. Azure endpoints are not probed.
    """
    import httpx

    if entry.api_type != "openai":
        return None
    base = (entry.base_url or OPENAI_URL).rstrip("/")
    try:
        answer = httpx.get(
            base + "/models",
            headers={"Authorization": f"Bearer {entry.key()}"},
            timeout=min(timeout, entry.timeout),
        )
    except httpx.TimeoutException:
        return f"the LLM server at {base} did not answer within {min(timeout, entry.timeout):g} s"
    except httpx.HTTPError as err:
        return f"the LLM server at {base} cannot be reached ({type(err).__name__})"
    if answer.status_code in (401, 403):
        env = f" (check {entry.api_key_env})" if entry.api_key_env else ""
        return f"the LLM server at {base} rejected the api key with HTTP {answer.status_code}{env}"
    return None
