"""The hierarchical mode end to end on real reviews: a small student misses its target, a larger
teacher labels an unlabelled pool, the student is distilled, and before/after are reported."""

from __future__ import annotations

import pandas as pd

from tests.conftest_models import FINE_FOODS
from trainer_agent.skills.model.train import train_model
from trainer_agent.skills.specs import DataReport, Requirement, TaskSpec


def test_teacher_student_runs_end_to_end_and_reports_before_and_after(tmp_path):
    rows = pd.read_csv(FINE_FOODS / "train.csv").sample(frac=1, random_state=1)
    rows.iloc[:200].to_csv(tmp_path / "train.csv", index=False)
    rows.iloc[200:900].drop(columns=["score"]).to_csv(tmp_path / "pool.csv", index=False)  # unlabelled
    pd.read_csv(FINE_FOODS / "test.csv").sample(n=300, random_state=0).to_csv(
        tmp_path / "test.csv", index=False
    )
    reqs = [
        Requirement(name="accuracy", op=">=", target=0.95),
        Requirement(name="params", op="<", target=3000),
    ]
    spec = TaskSpec(
        request="Classify reviews, accuracy >= 95%, under 3000 parameters",
        task_type="text_classification",
        label_column="score",
        text_column="review",
        requirements=reqs,
    )
    data = DataReport(
        train_path=str(tmp_path / "train.csv"),
        test_path=str(tmp_path / "test.csv"),
        test_from="user",
        n_train=200,
        n_test=300,
        columns=list(rows.columns),
        label_column="score",
        text_column="review",
    )
    r = train_model(
        spec, data, tmp_path / "run", unlabelled_path=tmp_path / "pool.csv", progress=lambda s: None
    )
    d = r.distillation
    assert d["pool_rows"] == 700 and d["teacher"]["params"] > 3000 > r.params  # a larger teacher
    assert set(d["validation"]) >= {"before", "after"}
    assert 0.5 < d["validation"]["before"] <= 1 and 0.5 < d["validation"]["after"] <= 1
    if d["kept"]:
        assert d["validation"]["after"] > d["validation"]["before"]
        assert d["held_out"]["after"] == r.metrics["accuracy"] and 0.5 < d["held_out"]["before"] < 1
    assert d["summary"] in r.notes
    card = (tmp_path / "run" / "model_card.md").read_text()
    assert "## Teacher and student" in card
