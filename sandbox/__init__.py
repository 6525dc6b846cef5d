"""Where generated code runs: a locked-down Docker container, or a local subprocess with rlimits.

    from trainer_agent.sandbox import load_config, make_sandbox
    with make_sandbox("auto", run_dir, load_config()) as sb:
        print(sb.description)
        res = sb.run_job("skills.jobs.train", "train_spec.json", "train_result.json", timeout=600)
        if not res.ok:
            print(res.reason)  # e.g. "ran out of memory (limit 4 GiB)"

Imports nothing until a name is used, so jobs run as `python -m trainer_agent.sandbox.<job>` start fast and the
Docker SDK loads only when a Docker executor is made.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer_agent.sandbox.base import JobResult, Sandbox
    from trainer_agent.sandbox.config import SandboxConfig, load_config
    from trainer_agent.sandbox.select import check, make_sandbox

_WHERE = {
    "JobResult": "trainer_agent.sandbox.base",
    "Sandbox": "trainer_agent.sandbox.base",
    "SandboxConfig": "trainer_agent.sandbox.config",
    "load_config": "trainer_agent.sandbox.config",
    "make_sandbox": "trainer_agent.sandbox.select",
    "check": "trainer_agent.sandbox.select",
}
__all__ = ["JobResult", "Sandbox", "SandboxConfig", "check", "load_config", "make_sandbox"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
