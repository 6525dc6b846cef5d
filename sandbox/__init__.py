"""Where generated code runs: a locked-down Docker container, or a local subprocess with rlimits.

    from sandbox import make_sandbox, load_config
    with make_sandbox("auto", run_dir, load_config()) as sb:
        res = sb.run_job("skills.jobs.train", "train_spec.json", "train_result.json", timeout=600)

Light on purpose: the Docker SDK is imported only when a Docker executor is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.base import JobResult, Sandbox
from sandbox.config import SandboxConfig, load_config

if TYPE_CHECKING:
    from sandbox.select import check, make_sandbox

__all__ = ["JobResult", "Sandbox", "SandboxConfig", "check", "load_config", "make_sandbox"]


def __getattr__(name: str) -> Any:
    if name in ("make_sandbox", "check"):
        from sandbox import select

        return getattr(select, name)
    raise AttributeError(name)
