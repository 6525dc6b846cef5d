"""The environment of the processes trainer-agent starts: sandbox jobs (local executor) and the
model service. An allow-list, so an LLM key, cloud credentials or an `OAI_CONFIG_LIST` in the
person's shell never reach a job that runs generated code, nor a service that faces a network.

    env = child_env({"PYTHONUNBUFFERED": "1"})

Passed through: PATH, HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR/TEMP/TMP, PYTHON*,
VIRTUAL_ENV, LD_LIBRARY_PATH, the project's own TRAINER_AGENT_*, thread counts (OMP_*, MKL_*,
OPENBLAS_NUM_THREADS, NUMEXPR_*), which GPUs (CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES) and
where model caches live (HF_HOME, TORCH_HOME, XDG_CACHE_HOME, ...), the offline switches. Never
passed: any name that says it holds a secret (a KEY, TOKEN, SECRET, PASSWORD or CREDENTIALS part),
even on the list (TRAINER_AGENT_API_KEY: the service gets its key explicitly, as `extra`).
"""

from __future__ import annotations

import os
import re

NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
        "VIRTUAL_ENV", "LD_LIBRARY_PATH", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
        "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
        "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE",
        "TRANSFORMERS_CACHE", "SENTENCE_TRANSFORMERS_HOME", "TORCH_HOME", "XDG_CACHE_HOME",
        "TOKENIZERS_PARALLELISM",
    }
)  # fmt: skip
PREFIXES = ("LC_", "PYTHON", "TRAINER_AGENT_", "OMP_", "MKL_", "NUMEXPR_")
SECRET = re.compile(r"(^|_)(API_?KEY|KEY|KEYS|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(_|$)", re.IGNORECASE)


def allowed(name: str) -> bool:
    """Whether the variable `name` may pass to a job or a service."""
    return (name in NAMES or name.startswith(PREFIXES)) and not SECRET.search(name)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The allowed part of this process's environment, then `extra` (set as given)."""
    env = {name: value for name, value in os.environ.items() if allowed(name)}
    env.update(extra or {})
    return env
