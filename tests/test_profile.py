"""profile_data on real data with planted problems, each counted exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine

from trainer_agent.skills.data.profile import id_like, profile_data

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


def _key(text: str) -> str:
    return " ".join(text.replace("<br />", " ").lower().split())


@pytest.fixture(scope="module")
def foods() -> tuple[pd.DataFrame, pd.DataFrame]:
    """300 training and 100 test reviews, all distinct (as cleaned text) and without overlap."""
    train = pd.read_csv(FINE_FOODS / "train.csv", nrows=500)
    test = pd.read_csv(FINE_FOODS / "test.csv", nrows=150)
    keys = train["review"].map(_key)
    train = train[~keys.duplicated() & ~keys.isin(set(test["review"].map(_key)))].head(300)
    test = test[~test["review"].map(_key).duplicated()].head(100)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def test_clean_subset_has_no_duplicate_findings(foods: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = foods
    prof = profile_data(train, test, label="score", text="review")
    assert prof.duplicates == {
        "exact": 0,
        "same_input_and_label": 0,
        "same_input_normalized": 0,
        "train_rows_in_test": 0,
    }
    assert prof.columns["review"]["kind"] == "text" and prof.columns["score"]["kind"] == "label"
    assert prof.label_counts == train["score"].value_counts().sort_index().to_dict()
    assert prof.text_lengths["train_chars"]["max"] == train["review"].str.len().max()


def test_planted_duplicates_and_leakage(foods: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = foods
    exact = train.iloc[:5]
    # The same review and score under another product: not an exact duplicate, and said so.
    relisted = train.iloc[10:12].assign(product=["RELISTED1", "RELISTED2"])
    shouted = train.iloc[5:8].assign(review=lambda d: d["review"].str.upper() + "!!")
    leaked = test.iloc[:4]
    # A near-copy: one word changed in a long test review.
    rest = test.iloc[4:]
    long_test = rest[rest["review"].str.split().str.len() > 60].iloc[0]
    near = long_test.copy()
    near["review"] = long_test["review"].replace(" the ", " this ", 1)
    assert near["review"] != long_test["review"]
    planted = pd.concat([train, exact, relisted, shouted, leaked, near.to_frame().T], ignore_index=True)
    prof = profile_data(planted, test, label="score", text="review")
    assert prof.duplicates["exact"] == 5
    assert prof.duplicates["same_input_and_label"] == 7
    assert prof.duplicates["same_input_normalized"] == 10
    assert prof.duplicates["train_rows_in_test"] == 4
    assert len(planted) - 1 in {i for i, _, _ in prof.leak_pairs}
    assert any("Leakage: 4 training rows" in f for f in prof.findings)
    assert any(f.startswith("5 exact duplicate rows (every column equal)") for f in prof.findings)
    assert "2 training rows repeat another's 'review' and 'score' but differ in 'product'." in prof.findings
    copy = next(f for f in prof.findings if "nearly copy a test text" in f)
    assert "test row " in copy and "data/profile.json" not in copy  # the rows, not a path


def test_empty_rows_and_missing_values(foods: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train = foods[0].copy()
    train.loc[[3, 7, 11], "review"] = ["", "   ", None]
    train.loc[[20, 21], "score"] = None
    prof = profile_data(train, label="score", text="review")
    assert prof.columns["review"]["missing"] == 3
    assert prof.columns["score"]["missing"] == 2
    assert any("Missing values in 2 columns; most in 'review' (3 of 300 rows)" in f for f in prof.findings)


def test_suspicious_columns_on_breast_cancer() -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame["row_id"] = np.arange(len(frame)) + 1000
    frame["batch"] = "b1"
    frame["diagnosis_code"] = frame["target"].map({0: "M", 1: "B"})  # the label, re-encoded
    prof = profile_data(frame, label="target")
    assert prof.suspicious["row_id"].startswith("identifier")
    assert prof.suspicious["batch"].startswith("constant")
    assert prof.suspicious["diagnosis_code"].startswith("label leak")
    # No real measurement of the tumour gives the label away on its own.
    assert set(prof.suspicious) == {"row_id", "batch", "diagnosis_code"}


def test_numeric_outliers_are_counted() -> None:
    frame = load_wine(as_frame=True).frame
    baseline = profile_data(frame, label="target").outliers.get("rows_with_numeric_outliers", 0)
    planted = frame.copy()
    planted.loc[[0, 1, 2], "alcohol"] = planted["alcohol"].median() + 100
    prof = profile_data(planted, label="target")
    assert prof.outliers["numeric:alcohol"] == 3
    assert prof.outliers["rows_with_numeric_outliers"] >= baseline + 3


def test_image_sizes() -> None:
    df = pd.DataFrame(
        {
            "image": [f"/data/{i}.png" for i in range(6)],
            "label": ["a", "b"] * 3,
            "width": [32, 32, 64, 32, 32, 32],
            "height": [32] * 6,
        }
    )
    prof = profile_data(df, label="label", features=["image"])
    assert prof.columns["image"]["kind"] == "image"
    assert prof.image_sizes["distinct_sizes"] == 2 and prof.image_sizes["width_max"] == 64


def test_id_like_rules() -> None:
    n = 50
    assert id_like(pd.Series(range(n)), "anything")  # a counter
    assert id_like(pd.Series([f"B00{i:05d}X" for i in range(n)]), "product")  # codes
    assert not id_like(pd.Series(np.linspace(0, 1, n)), "ratio")  # unique floats are measurements
    assert not id_like(pd.Series([f"word {i}" for i in range(n)]), "comment")  # text, not a code
    assert not id_like(pd.Series(range(5)), "id")  # too few rows to tell
