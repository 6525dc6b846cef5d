"""Which ethics judges a request gets: the offline guard, the meaning judge when a sentence encoder
is installed, and the LLM judge when an LLM is named (`skills.task.ethics`,
`skills.task.ethics_meaning`, `skills.task.ethics_llm`). In `run` and `chat` the LLM judge's call
is one of the run's LLM calls: counted against `--max-llm-calls` and `--max-cost`, its request
(a hash) and answer in the transcript, as the agents' calls are (`agents.brains.llm_gate`).

    judges, notes = ethics_judges("openai")     # `check --llm openai`; notes: what was left out
    judges, notes = run_ethics_judges(run)      # in a run: the LLM judge through the run's budget
"""

from __future__ import annotations

import time
from collections.abc import Callable

from trainer_agent.agents.brains.llm_choice import price_of
from trainer_agent.agents.brains.llm_gate import request_hash
from trainer_agent.agents.llm_complete import Completer
from trainer_agent.agents.llm_config import settings_for
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.usage import Usage
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.task.ethics import (
    EthicsJudge,
    EthicsPolicy,
    EthicsVerdict,
    load_policy,
)
from trainer_agent.skills.task.ethics_llm import JUDGE_AGENT, JUDGE_SYSTEM, LLM_JUDGE, llm_judge
from trainer_agent.skills.task.ethics_meaning import MeaningJudge, default_judges, why_not


def _names_an_llm(llm: str | None) -> bool:
    return bool(llm) and llm != "offline" and not str(llm).startswith("replay:")


def ethics_judges(
    llm: str | None, policy: EthicsPolicy | None = None, complete: Callable[[str], str] | None = None
) -> tuple[list[EthicsJudge], list[str]]:
    """(the judges in order, sentences on the judges left out); `llm`: an `--llm` spec or None;
    `complete`: how the LLM judge calls it (default: straight to the task agent's endpoint)."""
    policy = policy or load_policy()
    judges = default_judges(policy)
    notes = [] if any(isinstance(j, MeaningJudge) for j in judges) else [why_not()]
    if _names_an_llm(llm):
        complete = complete or Completer(settings_for(str(llm)).for_agent("task_agent"), system=JUDGE_SYSTEM)
        judges.append(_never_fails(llm_judge(complete)))
    return judges, notes


def run_ethics_judges(run: Run) -> tuple[list[EthicsJudge], list[str]]:
    """The judges of a run's request: with an LLM named (`--llm`), its judge's call goes through
    the run's LLM budget and transcript (`counted`)."""
    llm = run.options.llm
    return ethics_judges(llm, complete=counted(run, str(llm)) if _names_an_llm(llm) else None)


def counted(run: Run, llm: str) -> Callable[[str], str]:
    """A completion over the task agent's LLM that is one of the run's LLM calls: checked against
    `--max-llm-calls` and `--max-cost` before it is sent (BudgetExceeded: the judge is not heard),
    counted after, and recorded in the transcript (the request's hash, the answer, its usage)."""
    entry = settings_for(llm).for_agent("task_agent")
    completer = Completer(entry, system=JUDGE_SYSTEM)
    usage = Usage(run.state.setdefault("llm_usage", {}), run.options.max_llm_calls, run.options.max_cost)

    def complete(prompt: str) -> str:
        usage.check(JUDGE_AGENT)
        messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]
        digest = request_hash({"messages": messages}, entry.model, [])  # as the gate records the agents
        run.transcript.write(
            {"type": "llm_request", "agent": JUDGE_AGENT, "model": entry.model, "request_hash": digest,
             "messages": 2, "tools": []}
        )  # fmt: skip
        before, t0 = dict(completer.usage), time.perf_counter()
        try:
            answer = completer(prompt)
        except UserError as err:
            run.transcript.event("llm_error", agent=JUDGE_AGENT, error=str(err), error_type="UserError")
            raise
        tokens = {k: completer.usage[k] - before[k] for k in ("prompt_tokens", "completion_tokens")}
        prompt_tokens, completion_tokens = tokens["prompt_tokens"], tokens["completion_tokens"]
        cost = usage.add(JUDGE_AGENT, entry.model, prompt_tokens, completion_tokens, price_of(entry))
        run.transcript.write(
            {"type": "llm_response", "agent": JUDGE_AGENT, "model": entry.model, "request_hash": digest,
             "content": answer, "tool_calls": [], "usage": tokens, "cost": cost,
             "seconds": round(time.perf_counter() - t0, 3)}
        )  # fmt: skip
        run.save()
        return answer

    return complete


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
