"""Vague speed and device words turned into stated limits the person can correct.

"Real-time fraud scoring", "fast enough for a chat widget", "runs on their phones": each carries a
limit nobody wrote as a number. When the request states no limit of that name, the Task agent
adopts the one configs/request_words.yaml (`vague_limits`) gives, judges it like any other
requirement, and says it as an assumption in the plan and the report:

    >>> limits, said = assumed_limits("real-time scoring of payments", [])
    >>> [(r.name, r.op, r.target) for r in limits]
    [('latency_p95_ms', '<=', 100.0)]
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from trainer_agent.skills.specs import Requirement
from trainer_agent.skills.task.request_words import request_words

_UNITS = {"latency_p95_ms": "p95 latency", "size_bytes": "model size"}


@dataclass(frozen=True)
class VagueLimit:
    pattern: re.Pattern[str]
    limits: dict[str, float]
    why: str


@functools.cache
def vague_limits() -> tuple[VagueLimit, ...]:
    """The `vague_limits` of configs/request_words.yaml, compiled (read once)."""
    return tuple(
        VagueLimit(
            re.compile(r"(?<![\w-])(?:" + "|".join(entry["words"]) + r")(?![\w-])", re.IGNORECASE),
            {str(k): float(v) for k, v in entry["limits"].items()},
            str(entry["why"]),
        )
        for entry in request_words()["vague_limits"]
    )


def _target(name: str, value: float) -> str:
    if name == "size_bytes":
        return f"{value / 1e6:g} MB" if value >= 1e6 else f"{value / 1e3:g} KB"
    return f"{value:g} ms"


def assumed_limits(text: str, stated: list[Requirement]) -> tuple[list[Requirement], list[str]]:
    """The limits `text` implies with vague words and does not state, and one sentence for each
    saying what was assumed, from which words, and how to change it. The first word that implies a
    limit of a name sets it; a stated limit of that name always wins."""
    taken = {r.name for r in stated}
    out: list[Requirement] = []
    said: list[str] = []
    for vague in vague_limits():
        hit = vague.pattern.search(text)
        if hit is None:
            continue
        for name, target in vague.limits.items():
            if name in taken:
                continue
            taken.add(name)
            words = hit.group(0)
            out.append(Requirement(name=name, op="<=", target=target, text=words, assumed=True))
            said.append(
                f"'{words}' read as {_UNITS.get(name, name)} <= {_target(name, target)}, an assumption "
                f"({vague.why}); state a limit (e.g. '{_UNITS.get(name, name)} under "
                f"{_target(name, target * 2)}') to change it"
            )
    return out, said
