"""LLM calls, tokens and cost per agent, and the limits that stop a run (`--max-llm-calls`, `--max-cost`).

The counts live in the run's state (`state["llm_usage"]`), so they survive a resume and reach the
report. Cost is computed from the configured price per 1k prompt and completion tokens.
"""

from __future__ import annotations

from typing import Any

from trainer_agent.skills.errors import NeedsInput


class BudgetExceeded(NeedsInput):
    """The run spent its LLM budget; it stops cleanly and can be resumed with a larger one."""


def empty() -> dict[str, Any]:
    return {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "per_agent": {}}


def cost_of(prompt_tokens: int, completion_tokens: int, price: tuple[float, float] | None) -> float:
    if price is None:
        return 0.0
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1000


class Usage:
    """Counts in `record` (a dict kept in the run state), checked against the limits in `check`."""

    def __init__(
        self, record: dict[str, Any], max_llm_calls: int | None = None, max_cost: float | None = None
    ) -> None:
        for key, value in empty().items():
            record.setdefault(key, value)
        self.record = record
        self.max_llm_calls = max_llm_calls
        self.max_cost = max_cost
        record["limits"] = {"max_llm_calls": max_llm_calls, "max_cost": max_cost}

    def check(self, agent: str) -> None:
        """Raise BudgetExceeded when `agent` may not make another call."""
        calls, cost = self.record["calls"], self.record["cost"]
        if self.max_llm_calls is not None and calls >= self.max_llm_calls:
            raise BudgetExceeded(
                f"stopped before {agent}'s next LLM call: the run has made {calls} LLM calls, "
                f"the limit set by --max-llm-calls {self.max_llm_calls} (`trainer-agent resume RUN_DIR "
                "--max-llm-calls N` goes on with a larger one)."
            )
        if self.max_cost is not None and cost >= self.max_cost:
            raise BudgetExceeded(
                f"stopped before {agent}'s next LLM call: the LLM calls so far cost ${cost:.4f}, "
                f"which reaches --max-cost {self.max_cost:g} (`trainer-agent resume RUN_DIR --max-cost X` "
                "goes on with a larger one)."
            )

    def add(
        self,
        agent: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        price: tuple[float, float] | None,
    ) -> float:
        """Count one answered call; return its cost."""
        cost = cost_of(prompt_tokens, completion_tokens, price)
        mine = self.record["per_agent"].setdefault(
            agent, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "models": []}
        )
        for target in (self.record, mine):
            target["calls"] += 1
            target["prompt_tokens"] += int(prompt_tokens)
            target["completion_tokens"] += int(completion_tokens)
            target["cost"] = round(target["cost"] + cost, 8)
        if model not in mine["models"]:
            mine["models"].append(model)
        if price is None:
            self.record["unpriced"] = sorted({*self.record.get("unpriced", []), model})
        return cost

    def summary(self) -> dict[str, Any]:
        """What the report shows: totals, per agent, limits, and models with no known price."""
        return {
            key: self.record[key]
            for key in (
                "calls",
                "prompt_tokens",
                "completion_tokens",
                "cost",
                "per_agent",
                "limits",
                "unpriced",
            )
            if key in self.record
        }

    def line(self) -> str:
        """One line for the terminal."""
        r = self.record
        return (
            f"LLM usage: {r['calls']} calls, {r['prompt_tokens']:,} prompt + {r['completion_tokens']:,} "
            f"completion tokens, ${r['cost']:.4f}"
        )
