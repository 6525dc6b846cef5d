"""Pseudo-labels are an experiment: class-balanced selection, a calibrated teacher, and labels kept
only when cross-validation on the person's labels shows a gain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainer_agent.skills.data.annotate import MARK, NEEDS_REVIEW, annotate_with_teacher
from trainer_agent.skills.data.pseudo_labels import balanced_selection
from trainer_agent.skills.paired_gain import corrected_interval

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


def test_balanced_selection_keeps_the_class_shares_most_confident_first() -> None:
    predicted = np.array(["a"] * 6 + ["b"] * 3)
    confidence = np.array([0.99, 0.95, 0.97, 0.91, 0.92, 0.5, 0.96, 0.93, 0.8])
    keep = balanced_selection(predicted, confidence, {"a": 2 / 3, "b": 1 / 3}, min_confidence=0.9)
    # b has two sure rows, so at most 6 rows in all at 2:1; a's four most confident of five sure rows.
    assert list(np.flatnonzero(keep)) == [0, 1, 2, 4, 6, 7]
    none = balanced_selection(predicted, confidence, {"a": 0.5, "b": 0.5}, min_confidence=0.97)
    assert not none.any()  # b has no sure answer: no one-class pseudo-labels


def test_the_interval_is_wider_than_the_plain_one() -> None:
    diffs = [0.02, 0.01, 0.03, 0.00, 0.02]
    mean, low, high = corrected_interval(diffs)
    assert mean == pytest.approx(0.016)
    plain_half = 2.776 * np.std(diffs, ddof=1) / np.sqrt(5)
    assert high - mean > plain_half and mean - low == pytest.approx(high - mean)


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    rows = pd.read_csv(FINE_FOODS / "train.csv").sample(n=1500, random_state=4)
    return rows.reset_index(drop=True)


def test_pseudo_labels_that_do_not_help_are_not_kept(reviews: pd.DataFrame) -> None:
    labelled, pool = reviews.iloc[:300], reviews.iloc[300:].drop(columns="score")
    result = annotate_with_teacher(labelled, pool, "score", text="review", min_confidence=0.7)
    trial = result.trial
    assert trial is not None and trial["folds"] == 5 and trial["rows"] == 300
    low, high = trial["interval"]
    assert low < trial["after"] - trial["before"] < high
    assert trial["kept"] == (low > 0)
    if trial["kept"]:
        assert len(result.annotated) > 0
        shares = result.annotated["score"].value_counts(normalize=True)
        given = labelled["score"].value_counts(normalize=True)
        assert (shares - given).abs().max() < 0.02  # the labelled data's class shares
    else:
        assert result.annotated.empty and (result.set_aside[MARK] == NEEDS_REVIEW).all()
        assert (
            f"0 pool rows are labelled and {len(pool)} set aside for a person "
            "(--no-check keeps the selected ones anyway)." in result.notes
        )
    assert any(n.startswith("Pseudo-label trial (5-fold on your 300 labelled rows") for n in result.notes)

    unchecked = annotate_with_teacher(labelled, pool, "score", text="review", min_confidence=0.7, check=False)
    assert unchecked.trial is None and len(unchecked.annotated) > 0
    assert set(unchecked.annotated["score"]) == {"great", "other"}  # balanced: never one class only
    assert (unchecked.annotated["annotation_confidence"] >= 0.7).all()
