"""Which ethics judges a request gets: the offline guard, the meaning judge when a sentence encoder
is installed, and the LLM judge when `check --llm` names an LLM (`skills.task.ethics`,
`skills.task.ethics_meaning`, `skills.task.ethics_llm`). `run` and `chat` do not ask the LLM judge
yet: its call would have to go through the LLM brain's gate (`--max-llm-calls`, cost, transcript).

    judges, notes = ethics_judges("openai")     # notes: what was left out and why
"""

from __future__ import annotations

from trainer_agent.agents.llm_complete import Completer
from trainer_agent.agents.llm_config import settings_for
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.task.ethics import (
    EthicsJudge,
    EthicsPolicy,
    EthicsVerdict,
    load_policy,
)
from trainer_agent.skills.task.ethics_llm import LLM_JUDGE, llm_judge
from trainer_agent.skills.task.ethics_meaning import MeaningJudge, default_judges, why_not


def ethics_judges(llm: str | None, policy: EthicsPolicy | None = None) -> tuple[list[EthicsJudge], list[str]]:
    """(the judges in order, sentences on the judges left out); `llm`: an `--llm` spec or None."""
    policy = policy or load_policy()
    judges = default_judges(policy)
    notes = [] if any(isinstance(j, MeaningJudge) for j in judges) else [why_not()]
    if llm and llm != "offline" and not llm.startswith("replay:"):
        complete = Completer(settings_for(llm).for_agent("task_agent"))
        judges.append(_never_fails(llm_judge(complete)))
    return judges, notes


def _never_fails(judge: EthicsJudge) -> EthicsJudge:
    """An LLM that cannot be reached refuses nothing; the verdict says so and the others decide."""

    def guarded(request: str, policy: EthicsPolicy) -> EthicsVerdict:
        try:
            return judge(request, policy)
        except UserError as err:
            return EthicsVerdict(
                allowed=True, judge=LLM_JUDGE, reasons=[f"The LLM judge was not heard: {err}"]
            )

    return guarded
