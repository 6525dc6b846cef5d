"""configs/request_words.yaml, read once: the words the Task agent reads requests with (numbers,
other languages, class-name events, vague limits). `skills.task.reading`,
`skills.task.number_words` and `skills.task.assumed_limits` each compile their part of it."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any


@functools.cache
def request_words() -> dict[str, Any]:
    import yaml

    text = resources.files("trainer_agent.configs").joinpath("request_words.yaml").read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc
