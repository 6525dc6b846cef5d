"""Vague speed and device words become stated, correctable limits (skills/task/assumed_limits.py),
judged like any other requirement; a stated limit of the same name wins."""

from __future__ import annotations

import pytest

from trainer_agent.skills.model.evaluate import check_requirements
from trainer_agent.skills.task.requirements import read_requirements


def _limits(text: str) -> list[tuple[str, str, float, bool]]:
    return [(r.name, r.op, r.target, r.assumed) for r in read_requirements(text).requirements]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("real-time fraud scoring of card payments", [("latency_p95_ms", "<=", 100.0, True)]),
        ("answers instantly to customer emails", [("latency_p95_ms", "<=", 100.0, True)]),
        ("a fast sentiment model for our chat widget", [("latency_p95_ms", "<=", 200.0, True)]),
        ("a low-latency spam filter", [("latency_p95_ms", "<=", 200.0, True)]),
        ("tag photos on their phones", [("size_bytes", "<=", 20e6, True)]),
        ("runs on-device in our android app", [("size_bytes", "<=", 20e6, True)]),
        ("classify vibration readings on an Arduino", [("size_bytes", "<=", 256e3, True)]),
        ("a lightweight churn model", [("size_bytes", "<=", 10e6, True)]),
        ("fast on a phone", [("latency_p95_ms", "<=", 200.0, True), ("size_bytes", "<=", 20e6, True)]),
        # a stated limit of the same name wins; the vague word adds nothing
        ("real-time scoring, p95 latency under 20 ms", [("latency_p95_ms", "<", 20.0, False)]),
        # words that are about something else
        ("train fast, any model will do", []),
        ("predict churn of mobile subscribers", []),
        ("forecast breakfast orders", []),
    ],
)  # fmt: skip
def test_vague_words_become_limits(text: str, expected: list[tuple]) -> None:
    assert _limits(text) == expected


def test_the_assumption_is_said_with_how_to_change_it_and_marked_in_the_results() -> None:
    reading = read_requirements("Accuracy at least 0.9 for real-time scoring")
    assert reading.readings == [
        "'real-time' read as p95 latency <= 100 ms, an assumption (a wait under 100 ms is one a person "
        "does not notice); state a limit (e.g. 'p95 latency under 200 ms') to change it"
    ]
    measured = {"accuracy": 0.95, "latency_p95_ms": 130.0}
    [accuracy, latency] = check_requirements(reading.requirements, measured)
    assert accuracy.met and accuracy.note == ""
    assert latency.met is False and latency.note == "assumed from 'real-time'; over by 30"
