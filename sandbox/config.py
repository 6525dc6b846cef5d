"""Sandbox limits: a pydantic model with defaults, loaded from `configs/sandbox.yaml`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from trainer_agent.skills.errors import UserError

CONFIG_PATH = Path(__file__).resolve().parent.parent / "configs" / "trainer_agent.sandbox.yaml"
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """'512m' -> 536870912; plain integers are bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", str(value).lower())
    if not m:
        raise ValueError(f"not a size: {value!r} (use a number with k, m or g, e.g. 512m)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_size(n: int) -> str:
    """536870912 -> '512 MiB'."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


class SandboxConfig(BaseModel):
    """Limits and options for jobs; the same for the Docker and the local executor."""

    image: str = "trainer-agent-sandbox:latest"
    memory: str = "4g"
    cpus: float = Field(default=2.0, gt=0)
    pids: int = Field(default=512, ge=16)
    timeout: float = Field(default=1800, gt=0, description="seconds, per job")
    network: bool = False
    gpus: Literal["all", "none"] | int = "all"
    tmpfs_size: str = "1g"
    shm_size: str = "512m"
    file_size: str = "8g"
    user: str = "auto"
    max_output_chars: int = Field(default=200_000, ge=1000)

    @field_validator("memory", "tmpfs_size", "shm_size", "file_size")
    @classmethod
    def _size(cls, v: str) -> str:
        parse_size(v)
        return v

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus(cls, v: object) -> object:
        if isinstance(v, str) and v.strip().isdigit():
            return int(v)
        if isinstance(v, int) and not isinstance(v, bool) and v < 0:
            raise ValueError("gpus must be all, none or a count >= 0")
        return v

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)

    @property
    def file_size_bytes(self) -> int:
        return parse_size(self.file_size)


def load_config(path: str | Path | None = None, **overrides: object) -> SandboxConfig:
    """Read the YAML config (default `configs/sandbox.yaml`; missing file = defaults) plus overrides."""
    import yaml

    p = Path(path) if path is not None else CONFIG_PATH
    data: dict[str, object] = {}
    if p.exists():
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"{p} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise UserError(f"{p} must hold a mapping of sandbox settings.")
        data.update(loaded)
    elif path is not None:
        raise UserError(f"Sandbox config {p} does not exist.")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SandboxConfig.model_validate(data)
    except ValueError as exc:
        raise UserError(f"{p}: bad sandbox setting: {exc}") from exc
