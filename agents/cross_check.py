"""The deterministic cross-check: the requirement parser's reading of the request beside the LLM's.

With an LLM brain the Task agent states its own reading of the request as JSON
(`{"task_type": ..., "label_column": ..., "requirements": [{"name", "op", "target"}]}`); the
`parse_request` tool parses the same request with rules. Where the two disagree, the person is
shown both and the disagreement is recorded (transcript, state, report). The run goes on with
the parser's spec: it is the one the tools check against.
"""

from __future__ import annotations

from typing import Any

from trainer_agent.agents.json_repair import last_object
from trainer_agent.skills.report import fmt_value

FRACTION_METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc")
_OPS = (">=", ">", "<=", "<")


def reading_of(content: Any) -> dict[str, Any] | None:
    """The reading a Task agent message states, if any: a JSON object with `requirements`."""
    if not isinstance(content, str) or "requirements" not in content:
        return None
    try:
        value, _ = last_object(content)
    except ValueError:
        return None
    return value if isinstance(value.get("requirements"), list) else None


def _requirements(
    items: list[Any], who: str, problems: list[str]
) -> dict[tuple[str, str], tuple[str, float]]:
    out: dict[tuple[str, str], tuple[str, float]] = {}
    for item in items:
        try:
            name, op, target = (
                str(item["name"]).lower().strip(),
                str(item["op"]).strip(),
                float(item["target"]),
            )
        except (KeyError, TypeError, ValueError):
            problems.append(f"{who} states a requirement that cannot be read: {item!r}")
            continue
        if op not in _OPS:
            problems.append(f"{who} states an unknown comparison {op!r} for {name}")
            continue
        if name in FRACTION_METRICS and target > 1:  # "90" meant 90%
            target /= 100
        out[(name, str(item.get("label") or ""))] = (op, target)
    return out


def _show(key: tuple[str, str], op: str, target: float) -> str:
    name = f"{key[0]}[{key[1]}]" if key[1] else key[0]
    return f"{name} {op} {fmt_value(target)}"


def compare(parsed: dict[str, Any], reading: dict[str, Any]) -> list[str]:
    """Sentences naming each disagreement between the parser's TaskSpec and the LLM's reading."""
    found: list[str] = []
    for field in ("task_type", "label_column", "text_column"):
        theirs = reading.get(field)
        if theirs not in (None, "") and str(theirs) != str(parsed.get(field)):
            found.append(f"{field}: the parser read {parsed.get(field)!r}, the LLM {theirs!r}")
    problems: list[str] = []
    mine = _requirements(parsed.get("requirements") or [], "the parser", problems)
    llm = _requirements(reading.get("requirements") or [], "the LLM", problems)
    for key in sorted(set(mine) | set(llm)):
        if key in mine and key in llm:
            (op1, t1), (op2, t2) = mine[key], llm[key]
            if op1 != op2 or abs(t1 - t2) > 1e-9 * max(1.0, abs(t1)):
                found.append(f"the parser read {_show(key, op1, t1)}, the LLM {_show(key, op2, t2)}")
        elif key in mine:
            found.append(f"the parser found {_show(key, *mine[key])}, which the LLM did not state")
        else:
            found.append(f"the LLM stated {_show(key, *llm[key])}, which the parser did not find")
    return found + problems
