"""The LLM ethics judge: a configured LLM reads the same policy (configs/policy.yaml: categories,
descriptions, examples and the benign look-alikes) and answers whether a request falls under a
category. It is one more judge in `skills.task.ethics.judge_ethics`: its refusal stands, it can
never lift the offline guard's or the meaning judge's.

The answer must be JSON: {"refuse": true|false, "category": "<id>"|null, "why": "..."}. An
answer that is not that, or names no policy category, refuses nothing; the verdict's reason says
so, and the other judges still decide.

    judge = llm_judge(complete)            # complete(prompt) -> str, e.g. agents.llm_complete.Completer
    verdict = judge(request, load_policy())
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from trainer_agent.skills.task.ethics import EthicsJudge, EthicsPolicy, EthicsVerdict, refusal

LLM_JUDGE = "llm-judge"
_JSON = re.compile(r"\{.*\}", re.S)


# who asks, as the system message of the judge's call (the agents' messages name them the same way)
JUDGE_AGENT = "ethics_judge"  # how the judge's calls are named in a run's LLM usage and transcript
JUDGE_SYSTEM = (
    f"You are the Task agent's ethics judge (`{JUDGE_AGENT}`): you read a policy and one request and "
    "answer with JSON only."
)


def policy_prompt(request: str, policy: EthicsPolicy) -> str:
    """The judge's prompt: the policy's categories with their examples, the acceptable
    look-alikes, and the request."""
    lines = [
        "You judge whether a machine-learning request may be built under this policy.",
        "Refuse only what a category describes; detecting, filtering, auditing or blocking such things "
        "is acceptable. Judge the meaning, not the wording.",
        "",
        "Categories that are refused:",
    ]
    for c in policy.categories:
        lines.append(f"- id {c.id}: {c.name}. {c.description}")
        lines += [f"    e.g. {e}" for e in c.examples[:6]]
    if policy.benign:
        lines += ["", "Acceptable requests that look similar:"] + [f"- {e}" for e in policy.benign[:20]]
    lines += [
        "",
        f"Request: {json.dumps(request, ensure_ascii=False)}",
        'Answer with JSON only: {"refuse": true or false, "category": "<id>" or null, '
        '"why": "<one sentence>"}',
    ]
    return "\n".join(lines)


def llm_judge(complete: Callable[[str], str]) -> EthicsJudge:
    """An `EthicsJudge` over `complete` (one prompt in, the LLM's text out)."""

    def judge(request: str, policy: EthicsPolicy) -> EthicsVerdict:
        answer = complete(policy_prompt(request, policy))
        found = _JSON.search(answer or "")
        try:
            said = json.loads(found.group(0)) if found else None
        except ValueError:
            said = None
        if not isinstance(said, dict) or not isinstance(said.get("refuse"), bool):
            return EthicsVerdict(
                allowed=True,
                judge=LLM_JUDGE,
                reasons=["The LLM judge's answer was not the JSON asked for; it refused nothing."],
            )
        category = policy.by_id.get(str(said.get("category")))
        if not said["refuse"]:
            return EthicsVerdict(allowed=True, judge=LLM_JUDGE)
        if category is None:
            return EthicsVerdict(
                allowed=True,
                judge=LLM_JUDGE,
                reasons=[
                    f"The LLM judge refused under '{said.get('category')}', which is no policy category."
                ],
            )
        verdict = refusal(category, None, LLM_JUDGE)
        if why := str(said.get("why") or "").strip():
            verdict.reasons.insert(1, f"The LLM judge: {' '.join(why.split())[:300]}")
        return verdict

    return judge
