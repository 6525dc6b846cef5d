"""Sufficiency: how many more labelled rows, of which class, and why; the learning-curve estimate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainer_agent.skills.data.sufficiency import (
    ask_for_more,
    check_sufficiency,
    learning_curve_estimate,
    require_sufficient,
)
from trainer_agent.skills.errors import NeedsInput
from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


def _spec(task: TaskType = TaskType.TEXT_CLASSIFICATION, accuracy: float | None = None) -> TaskSpec:
    reqs = [Requirement(name="accuracy", op=">=", target=accuracy)] if accuracy is not None else []
    return TaskSpec(request="r", task_type=task, label_column="score", requirements=reqs)


def test_thirty_examples_ask_for_the_number_needed_and_why() -> None:
    from trainer_agent.skills.task.feasibility import labels_needed

    reviews = pd.read_csv(FINE_FOODS / "train.csv").sample(n=30, random_state=1)
    counts = reviews["score"].value_counts().to_dict()  # great 18, other 12
    spec = _spec(accuracy=0.95)
    suff = check_sufficiency(spec, counts)
    assert not suff.enough
    more, _, why = labels_needed(counts, spec.requirements)  # the project's one rule
    assert suff.more_needed == sum(more.values()) > 0
    assert suff.needed_per_class == {c: n for c, n in more.items() if n}
    question = ask_for_more(suff)
    assert question.startswith(f"I need at least {suff.more_needed} more labelled rows (")
    assert all(f"{n} more '{c}'" in question for c, n in suff.needed_per_class.items())
    assert why and why[0].rstrip(".") in question  # and why
    with pytest.raises(NeedsInput) as info:
        require_sufficient(suff)
    assert info.value.exit_code == 2 and str(info.value) == question


def test_a_short_test_file_counts_too() -> None:
    spec = _spec(accuracy=0.95)
    suff = check_sufficiency(spec, {"great": 300, "other": 200}, test_counts={"great": 3, "other": 2})
    assert not suff.enough and suff.more_needed > 0


def test_enough_data_passes() -> None:
    suff = check_sufficiency(_spec(accuracy=0.7), {"great": 300, "other": 200})
    assert suff.enough and suff.more_needed == 0 and ask_for_more(suff) == ""
    require_sufficient(suff)


def test_regression_floor() -> None:
    suff = check_sufficiency(_spec(TaskType.TABULAR_REGRESSION), {}, n_rows=12)
    assert not suff.enough and suff.more_needed > 0 and "12 after cleaning" in suff.reason


def test_learning_curve_on_fine_foods() -> None:
    reviews = pd.read_csv(FINE_FOODS / "train.csv").sample(n=600, random_state=0)
    far = learning_curve_estimate(reviews, "score", 0.9, text="review")
    assert "a quick probe model reaches accuracy" in far
    assert ("reaches 0.90 at about" in far) or ("out of reach" in far)
    near = learning_curve_estimate(reviews, "score", 0.6, text="review")
    assert near.endswith("already at the target 0.60")
    assert learning_curve_estimate(reviews.head(30), "score", 0.9, text="review") == ""
