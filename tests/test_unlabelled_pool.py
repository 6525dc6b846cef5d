"""Rows without labels reach the teacher: the data stage keeps them as a pool (with a pool file given
on its own), and the teacher-student decision is a paired cross-validated gain with its interval."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest_models import FINE_FOODS
from trainer_agent.skills.data.data_prep import normalize_text, prepare_data
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.train import train_model
from trainer_agent.skills.specs import Requirement, TaskSpec

SPEC = TaskSpec(
    request="Classify reviews",
    task_type="text_classification",
    label_column="score",
    text_column="review",
)


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    rows = pd.read_csv(FINE_FOODS / "train.csv").sample(frac=1, random_state=2)
    return rows[~rows["review"].duplicated()].reset_index(drop=True)


def test_rows_without_a_label_and_a_pool_file_become_the_pool(reviews: pd.DataFrame, tmp_path: Path) -> None:
    labelled, blank, extra = reviews.iloc[:300], reviews.iloc[300:340], reviews.iloc[340:400]
    test = reviews.iloc[400:500]
    train = pd.concat(
        [labelled, blank.assign(score=None), test.iloc[:5].assign(score=None)],  # 5 pool rows are test rows
        ignore_index=True,
    )
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    pool_file = pd.concat(
        [extra, extra.iloc[:10], labelled.iloc[:3]], ignore_index=True
    )  # 10 repeats, 3 known
    pool_file.to_csv(tmp_path / "pool.csv", index=False)

    report = prepare_data(
        SPEC,
        tmp_path / "train.csv",
        tmp_path / "test.csv",
        tmp_path / "run",
        unlabelled_path=tmp_path / "pool.csv",
    )

    assert report.n_train == 300 and report.unlabelled_rows == 40 + 60
    pool = pd.read_csv(report.unlabelled_path)
    assert list(pool.columns) == ["review"]  # inputs only: no label reaches the pool
    expected = normalize_text(pd.concat([blank["review"], extra["review"]]))  # cleaned like training texts
    assert set(pool["review"]) == set(expected)
    assert any("its 'score' column is ignored" in n for n in report.notes)
    assert any("100 rows without a label" in n and "data/unlabelled.csv" in n for n in report.notes)

    pd.DataFrame({"comment": ["a text"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(
        UserError, match=r"lacks column .review., which the model reads; its columns are: comment"
    ):
        prepare_data(
            SPEC, tmp_path / "train.csv", None, tmp_path / "run2", unlabelled_path=tmp_path / "bad.csv"
        )


def test_the_data_stage_pool_reaches_the_teacher_and_the_gain_has_an_interval(
    reviews: pd.DataFrame, tmp_path: Path
) -> None:
    train = pd.concat([reviews.iloc[:200], reviews.iloc[600:1300].assign(score=None)], ignore_index=True)
    train.to_csv(tmp_path / "train.csv", index=False)
    reviews.iloc[1300:1600].to_csv(tmp_path / "test.csv", index=False)
    spec = SPEC.model_copy(
        update={
            "requirements": [
                Requirement(name="accuracy", op=">=", target=0.95),
                Requirement(name="params", op="<", target=3000),
            ]
        }
    )
    data = prepare_data(spec, tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "run")
    assert data.unlabelled_rows == 700

    result = train_model(spec, data, tmp_path / "run", progress=lambda s: None)

    d = result.distillation
    assert d["pool_rows"] == 700  # the pool came from the data stage, not from an argument
    v = d["validation"]
    assert v["folds"] == 5 and v["rows"] == 200 and "Nadeau-Bengio" in v["method"]
    low, high = v["interval"]
    assert low < v["gain"] < high and v["gain"] == pytest.approx(v["after"] - v["before"], abs=2e-4)
    assert d["kept"] == (low > 0)  # kept only when the whole interval is a gain
    assert "95% interval" in d["summary"] and d["summary"] in result.notes
