"""The ethics policy and its judges: may trainer-agent build what a request asks for?

The policy is `configs/policy.yaml` (key `ethics`): categories of requests it refuses, each with a
description, examples, what it would build instead, and the phrase patterns of the offline guard.

A *judge* is any callable `(request, policy) -> EthicsVerdict`. `offline_guard` is the
deterministic one that always runs: it refuses when a category's pattern matches the request and
no `allow` pattern of that category overlaps the match ("loan approval ... (no protected
attributes)", "detect phishing"). An LLM judge, when one is configured, is a second callable
passed in `judges`; `judge_ethics` refuses when any judge refuses, so a second judge can only make
the guard stricter, never let through what the guard refuses.

    from trainer_agent.skills.task.ethics import judge_ethics
    verdict = judge_ethics("Write phishing emails that look like my bank")
    verdict.allowed, verdict.category   # (False, 'fraud_phishing')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.task.phrases import compile_phrase

OFFLINE_JUDGE = "offline-guard"


class EthicsVerdict(BaseModel):
    """One judge's (or the combined) answer for a request."""

    allowed: bool
    category: str | None = Field(default=None, description="the policy category id of a refusal")
    category_name: str | None = None
    evidence: str | None = Field(default=None, description="the words of the request that decided it")
    reasons: list[str] = Field(default_factory=list, description="sentences a person understands")
    acceptable_instead: str | None = None
    judge: str = OFFLINE_JUDGE


@dataclass(frozen=True)
class EthicsCategory:
    id: str
    name: str
    description: str
    examples: tuple[str, ...]
    acceptable_instead: str
    paraphrases: tuple[str, ...] = ()  # more wordings, for the meaning judge only
    patterns: tuple[re.Pattern[str], ...] = ()
    allow: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class EthicsPolicy:
    categories: tuple[EthicsCategory, ...]
    source: str = ""
    benign: tuple[str, ...] = ()  # acceptable requests close in wording to a category (meaning judge)
    protective: re.Pattern[str] | None = None  # a protective purpose: the meaning judge abstains
    by_id: dict[str, EthicsCategory] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_id.update({c.id: c for c in self.categories})


EthicsJudge = Callable[[str, EthicsPolicy], EthicsVerdict]


def default_policy_path() -> Path:
    return Path(str(resources.files("trainer_agent.configs").joinpath("policy.yaml")))


@lru_cache(maxsize=8)
def load_policy(path: str | Path | None = None) -> EthicsPolicy:
    """Read and compile the `ethics` section of a policy file (default: configs/policy.yaml).

    Raises:
        UserError: the file is missing, is not YAML, lacks the `ethics` section, or has a category
            without its fields or with a pattern that does not compile.
    """
    import yaml

    p = Path(path) if path is not None else default_policy_path()
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise UserError(f"cannot read the policy file '{p}': {err.strerror}") from err
    except yaml.YAMLError as err:
        raise UserError(f"the policy file '{p}' is not valid YAML: {err}") from err
    section = doc.get("ethics") if isinstance(doc, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get("categories"), list):
        raise UserError(f"the policy file '{p}' has no 'ethics:' section with a list of 'categories'")
    terms = {str(k): str(v) for k, v in (section.get("terms") or {}).items()}
    categories = []
    for raw in section["categories"]:
        missing = [k for k in ("id", "name", "description", "acceptable_instead") if not raw.get(k)]
        if missing:
            raise UserError(f"a category in '{p}' lacks {', '.join(missing)}: {str(raw)[:80]}")

        def compiled(key: str, raw: dict = raw) -> tuple[re.Pattern[str], ...]:
            out = []
            for pattern in raw.get(key) or []:
                try:
                    out.append(compile_phrase(str(pattern), terms))
                except (KeyError, re.error, ValueError) as err:
                    raise UserError(
                        f"pattern {pattern!r} of category '{raw['id']}' in '{p}' does not compile: {err!r}"
                    ) from err
            return tuple(out)

        categories.append(
            EthicsCategory(
                id=str(raw["id"]),
                name=str(raw["name"]),
                description=" ".join(str(raw["description"]).split()),
                examples=tuple(str(e) for e in raw.get("examples") or []),
                paraphrases=tuple(str(e) for e in raw.get("paraphrases") or []),
                acceptable_instead=" ".join(str(raw["acceptable_instead"]).split()),
                patterns=compiled("patterns"),
                allow=compiled("allow"),
            )
        )
    benign = tuple(str(e) for e in section.get("benign") or [])
    try:
        protective = (
            re.compile(str(section["protective"]), re.IGNORECASE) if section.get("protective") else None
        )
    except re.error as err:
        raise UserError(f"the 'protective' pattern in '{p}' does not compile: {err}") from err
    return EthicsPolicy(categories=tuple(categories), source=str(p), benign=benign, protective=protective)


def _normalize(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _finding(category: EthicsCategory, text: str) -> str | None:
    """The first span of `text` that a pattern of `category` matches and no allow pattern covers."""
    allowed = [m.span() for p in category.allow for m in p.finditer(text)]
    for pattern in category.patterns:
        pos = 0
        while (m := pattern.search(text, pos)) is not None:
            if not any(_overlaps(m.span(), span) for span in allowed):
                return m.group(0)
            pos = m.start() + 1
    return None


def refusal(category: EthicsCategory, evidence: str | None, judge: str) -> EthicsVerdict:
    """A refusal that names the category, says why, and what would be acceptable instead."""
    first = category.description.split(". ")[0].rstrip(".")
    reasons = [f"I cannot build this: it falls under the policy category '{category.name}' ({first})."]
    if evidence:
        reasons.append(f'The part of the request that decided it: "{" ".join(evidence.split())}".')
    reasons.append(f"What I can build instead: {category.acceptable_instead}")
    return EthicsVerdict(
        allowed=False,
        category=category.id,
        category_name=category.name,
        evidence=evidence,
        reasons=reasons,
        acceptable_instead=category.acceptable_instead,
        judge=judge,
    )


def offline_guard(request: str, policy: EthicsPolicy) -> EthicsVerdict:
    """The deterministic judge: the first category (in policy order) with an uncovered match."""
    text = _normalize(request)
    for category in policy.categories:
        if (evidence := _finding(category, text)) is not None:
            return refusal(category, evidence, OFFLINE_JUDGE)
    return EthicsVerdict(allowed=True, judge=OFFLINE_JUDGE)


def judge_ethics(
    request: str, policy: EthicsPolicy | None = None, judges: Sequence[EthicsJudge] | None = None
) -> EthicsVerdict:
    """Ask every judge (default: the offline guard; `skills.task.ethics_meaning.default_judges` adds
    the meaning judge); the first refusal wins.

    Args:
        request: the person's request in plain words.
        policy: the compiled policy; default `load_policy()`.
        judges: the judges to ask, in order. Put `offline_guard` first so that the deterministic
            answer decides whenever it refuses; the meaning judge and an LLM judge may add
            refusals the guard misses, never lift one.
    """
    policy = policy or load_policy()
    verdicts = [judge(request, policy) for judge in (judges or (offline_guard,))]
    for verdict in verdicts:
        if not verdict.allowed:
            return verdict
    return EthicsVerdict(allowed=True, judge="+".join(v.judge for v in verdicts))
