"""Confident learning on real data with planted label flips: recall and precision have floors.

Measured with seed 0 on this code (the floors sit a little below):
breast_cancer 5% flips: precision 0.81, recall 0.93; digits 5% flips: precision 0.75, recall 0.87;
fine_foods (1,000 reviews) 5% flips: recall 0.56, and precision 0.17 against the planted flips
only, because the great/other labels of real reviews are noisy themselves (4 stars is 'other'):
without any flip the same check already finds 128 of the 1,000 rows suspicious.
Whether suspects are relabelled is tests/test_label_fixes.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from trainer_agent.skills.data.label_errors import (
    confident_learning,
    find_label_errors,
    flip_labels,
    precision_recall,
)

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


def _bunch(loader: object) -> pd.DataFrame:
    frame = loader(as_frame=True).frame  # type: ignore[operator]
    frame["target"] = frame["target"].map(lambda t: f"class_{t}")
    return frame


@pytest.mark.parametrize(
    ("loader", "min_precision", "min_recall"),
    [(load_breast_cancer, 0.7, 0.85), (load_digits, 0.6, 0.7)],
)
def test_planted_flips_in_sklearn_tables(loader: object, min_precision: float, min_recall: float) -> None:
    noisy, planted = flip_labels(_bunch(loader), "target", 0.05, seed=0)
    found = find_label_errors(noisy, "target", seed=0)
    precision, recall = precision_recall({i.row for i in found.issues}, planted)
    name = getattr(loader, "__name__", "?")
    print(f"{name}: {len(planted)} flips, {len(found.issues)} suspects, P={precision:.2f} R={recall:.2f}")
    assert precision >= min_precision and recall >= min_recall
    for issue in found.issues:
        if issue.row in planted:  # the suggestion undoes the flip (two classes) or names a class
            assert issue.suggested != noisy.iloc[issue.row]["target"]
    assert [i.confidence for i in found.issues] == sorted((i.confidence for i in found.issues), reverse=True)


def test_planted_flips_in_fine_food_reviews() -> None:
    reviews = pd.read_csv(FINE_FOODS / "train.csv").sample(n=1000, random_state=0).reset_index(drop=True)
    clean = find_label_errors(reviews, "score", text="review", seed=0)
    noisy, planted = flip_labels(reviews, "score", 0.05, seed=1)
    found = find_label_errors(noisy, "score", text="review", seed=0)
    rows = {i.row for i in found.issues}
    precision, recall = precision_recall(rows, planted)
    print(f"fine_foods: {len(planted)} flips, {len(rows)} suspects, P={precision:.2f} R={recall:.2f}")
    print(f"fine_foods without flips: {len(clean.issues)} suspects")
    assert recall >= 0.5
    assert precision >= 0.15
    # Flipped rows are found far more often than rows at large: 5% of the rows are flipped.
    assert precision >= 3 * len(planted) / len(noisy)
    for issue in found.issues:
        if issue.row in planted:
            assert issue.suggested == reviews.iloc[issue.row]["score"]  # two classes: the flip undone
    assert found.issues[0].preview == str(noisy.iloc[found.issues[0].row]["review"])[:120]


def test_confident_learning_on_known_probabilities() -> None:
    # Five rows labelled 0 and five labelled 1; row 2 is labelled 0 but looks like a 1.
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    p1 = np.array([0.1, 0.2, 0.95, 0.15, 0.1, 0.9, 0.8, 0.85, 0.7, 0.9])
    probs = np.column_stack([1 - p1, p1])
    suspects, suggested = confident_learning(labels, probs)
    assert suspects.tolist() == [i == 2 for i in range(10)]
    assert suggested[2] == 1


def test_skips_what_cannot_be_cross_validated() -> None:
    tiny = pd.DataFrame({"x": range(12), "y": ["a"] * 9 + ["b"] * 3})
    assert "fewer than 5 rows" in (find_label_errors(tiny, "y").skipped or "")
    assert find_label_errors(tiny.assign(y="a"), "y").skipped == "only one class"
