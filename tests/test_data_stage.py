"""The Data agent's whole step on real data with planted problems: what it finds, what it changes
(only with approval, only in the training file), and what it writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from trainer_agent.skills.data.data_prep import normalize_text
from trainer_agent.skills.data.data_stage import needs_more_data, run_data_stage
from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"
TEXT_SPEC = TaskSpec(
    request="tell great fine-food reviews from the others",
    task_type=TaskType.TEXT_CLASSIFICATION,
    label_column="score",
    text_column="review",
    feature_columns=["review"],
    requirements=[Requirement(name="accuracy", op=">=", target=0.7)],
)


@pytest.fixture(autouse=True)
def _no_home_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """800 real reviews with 40 flipped labels, 6 duplicates, 5 test rows copied in, 3 empty rows."""
    folder = tmp_path_factory.mktemp("planted")
    train = pd.read_csv(FINE_FOODS / "train.csv").sample(n=800, random_state=0)
    train = train.drop_duplicates("review").reset_index(drop=True)
    test = pd.read_csv(FINE_FOODS / "test.csv").sample(n=250, random_state=0)
    test = test[~test["review"].isin(set(train["review"]))].reset_index(drop=True)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(train), 40, replace=False)
    train.loc[flipped, "score"] = train.loc[flipped, "score"].map({"great": "other", "other": "great"})
    empty = train.head(3).assign(review=["", "  ", None])
    given = pd.concat([train, train.iloc[100:106], test.head(5), empty], ignore_index=True)
    given.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    flipped_texts = normalize_text(train.loc[flipped, "review"])  # as the prepared file has them
    flipped_to = dict(zip(flipped_texts, train.loc[flipped, "score"], strict=True))
    return {"dir": folder, "flipped": set(flipped_texts), "flipped_to": flipped_to, "test": test}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_planted_problems_are_found_and_relabelling_is_tried(planted: dict, tmp_path: Path) -> None:
    given = planted["dir"] / "train.csv"
    before = {p: _digest(p) for p in (given, planted["dir"] / "test.csv")}
    asked: list[tuple[str, str]] = []

    def approve(kind: str, what: str) -> bool:
        asked.append((kind, what))
        return True

    report = run_data_stage(TEXT_SPEC, given, planted["dir"] / "test.csv", tmp_path / "run", approve=approve)
    run = tmp_path / "run"
    assert {p: _digest(p) for p in before} == before  # the person's files are only read
    notes = "\n".join(report.notes)
    assert "dropped 6 duplicate rows" in notes
    assert "dropped 5 rows whose text also appears in the test set" in notes
    assert "dropped 3 rows with empty text" in notes
    assert report.findings and report.notes[: len(report.findings)] == report.findings

    # Label errors: most planted flips are among the suspects. Relabelling them is an experiment
    # judged on the person's own labels (tests/test_label_fixes.py); here, on real reviews whose
    # labels are noisy themselves, nothing is both backed by a class-balanced probe and winning its
    # trial, so nothing is asked or changed.
    issues = pd.read_csv(run / "data" / "label_issues.csv")
    train = pd.read_csv(report.train_path)
    suspects = set(train.loc[issues["row"], "review"])
    assert len(suspects & planted["flipped"]) >= 0.5 * len(planted["flipped"])
    t = report.label_fix
    assert t is None or not t.passed
    assert asked == [] and report.labels_corrected == 0 and report.corrections_path is None
    assert not (run / "data" / "label_corrections.csv").exists()
    kept = train[train["review"].isin(planted["flipped"])]
    assert len(kept) >= 30 and (kept["score"] == kept["review"].map(planted["flipped_to"])).all()
    assert report.label_counts == train["score"].value_counts().sort_index().to_dict()
    # The test set is never relabelled: it is the person's test file, cleaned.
    test = pd.read_csv(report.test_path)
    assert test["score"].tolist() == planted["test"]["score"].tolist()

    assert report.sufficiency is not None and report.sufficiency.enough and not report.questions
    assert "Learning curve" in notes
    assert [Path(p).name for p in report.plots] == [
        "label_distribution.png",
        "text_lengths.png",
        "projection_2d.png",
        "missing_values.png",  # the planted empty texts
    ]
    assert all((run / p).is_file() for p in report.plots)
    card = (run / "data_card.md").read_text(encoding="utf-8")
    html = (run / "data_report.html").read_text(encoding="utf-8")
    for section in ("## Findings", "## Profile", "## Sufficiency", "## Likely label errors", "## Plots"):
        assert section in card
    assert any(f.startswith("Label check") and "confidence >= 0.90" in f for f in report.findings)
    if t is not None:
        assert "## Relabelling trial (scored on your own labels)" in card and f"{t.without:.4f}" in card
        assert f"{t.with_corrections:.4f}" in card and "Relabelling trial" in html
    assert "![label distribution](plots/label_distribution.png)" in card
    assert "<img src='plots/projection_2d.png'" in html and "Likely label errors" in html
    profile = json.loads((run / "data" / "profile.json").read_text())
    assert set(profile["seconds"]) >= {"prepare", "profile", "sufficiency", "label_errors", "plots"}
    assert len(report.label_issues) <= 20  # the chat gets the top; the file has them all


@pytest.fixture(scope="module")
def noisy_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits table with 5% of its labels flipped: relabelling wins its trial there."""
    from tests.test_label_errors import _bunch
    from trainer_agent.skills.data.label_errors import flip_labels

    path = tmp_path_factory.mktemp("digits") / "digits.csv"
    flip_labels(_bunch(load_digits), "target", 0.05, seed=0)[0].to_csv(path, index=False)
    return path


DIGITS_SPEC = TaskSpec(
    request="read digits", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="target"
)


def test_without_approval_nothing_is_relabelled(noisy_digits: Path, tmp_path: Path) -> None:
    asked: list[str] = []
    report = run_data_stage(
        DIGITS_SPEC, noisy_digits, None, tmp_path / "run", approve=lambda kind, what: bool(asked.append(what))
    )
    t = report.label_fix
    assert t is not None and t.passed and t.decision == "not approved" and len(asked) == 1
    assert f"{t.without:.4f}" in asked[0] and f"{t.with_corrections:.4f}" in asked[0]
    assert report.labels_corrected == 0 and report.label_issues and report.corrections_path is None
    assert not (tmp_path / "run" / "data" / "label_corrections.csv").exists()
    assert any("not approved" in f for f in report.findings)


def test_approved_corrections_travel_beside_the_persons_labels(noisy_digits: Path, tmp_path: Path) -> None:
    report = run_data_stage(
        DIGITS_SPEC, noisy_digits, None, tmp_path / "run", approve=lambda kind, what: True
    )
    run = tmp_path / "run"
    t = report.label_fix
    assert t is not None and t.decision == "applied" and report.labels_corrected == t.proposed > 0
    assert report.corrections_path == str(run / "data" / "label_corrections.csv")
    corrections = pd.read_csv(report.corrections_path)
    assert len(corrections) == report.labels_corrected
    # The training file keeps the person's labels: each corrected row still has its given label.
    train = pd.read_csv(report.train_path)
    given = train.loc[corrections["row"], "target"].astype(str).to_numpy()
    assert (given == corrections["given"].astype(str).to_numpy()).all()
    assert (given != corrections["suggested"].astype(str).to_numpy()).all()
    assert report.label_counts == train["target"].astype(str).value_counts().sort_index().to_dict()
    line = next(f for f in report.findings if f.startswith("Label check"))
    assert f"relabelled {t.proposed}" in line and f"{t.with_corrections:.4f}" in line
    assert "| applied |" in (run / "data_card.md").read_text(encoding="utf-8")


def test_tabular_identifier_and_constant_columns_leave_the_features(tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    frame["patient_id"] = np.arange(len(frame)) + 5000
    frame["site"] = "A"
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    spec = TaskSpec(
        request="predict the diagnosis", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="target"
    )
    report = run_data_stage(spec, tmp_path / "cancer.csv", None, tmp_path / "run", approve=None)
    assert "patient_id" not in report.feature_columns and "site" not in report.feature_columns
    assert len(report.feature_columns) == 30
    assert any("'patient_id' (identifier)" in f and "'site' (constant)" in f for f in report.findings)
    assert report.labels_corrected == 0  # no approver: suspects are only listed


def test_text_cells_in_a_number_column_are_a_finding_said_once(tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame.astype({"mean radius": object})
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    frame.loc[[3, 200], "mean radius"] = ["n.a.", "see notes"]
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    spec = TaskSpec(
        request="predict the diagnosis", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="target"
    )
    report = run_data_stage(spec, tmp_path / "cancer.csv", None, tmp_path / "run", approve=None)
    said = (
        f"'{tmp_path / 'cancer.csv'}': column 'mean radius' is numeric except 2 cells such as 'n.a.', "
        "'see notes' (rows 4, 201); they were read as missing values."
    )
    assert report.findings[0] == said and report.notes.count(said) == 1
    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    assert card.count("'mean radius' is numeric except 2 cells") == 1
    profile = json.loads((tmp_path / "run" / "data" / "profile.json").read_text(encoding="utf-8"))
    assert profile["columns"]["mean radius"]["kind"] == "numeric"


def test_regression_skips_the_label_checks(tmp_path: Path) -> None:
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(tmp_path / "diabetes.csv", index=False)
    spec = TaskSpec(
        request="predict progression", task_type=TaskType.TABULAR_REGRESSION, label_column="target"
    )
    report = run_data_stage(spec, tmp_path / "diabetes.csv", None, tmp_path / "run")
    assert report.sufficiency is not None and report.sufficiency.enough
    assert report.label_issues == [] and report.label_counts == {}
    assert [Path(p).name for p in report.plots] == ["projection_2d.png"]


def test_too_few_rows_after_cleaning_asks_for_more(tmp_path: Path) -> None:
    from trainer_agent.skills.task.feasibility import MIN_PER_CLASS

    reviews = pd.read_csv(FINE_FOODS / "train.csv").drop_duplicates("review")
    great = reviews[reviews["score"] == "great"].head(MIN_PER_CLASS + 10)
    other = reviews[reviews["score"] == "other"].head(MIN_PER_CLASS - 2)
    # Four duplicates lift 'other' to the floor as given; cleaning removes them.
    pd.concat([great, other, other.head(4)]).to_csv(tmp_path / "few.csv", index=False)
    spec = TEXT_SPEC.model_copy(update={"requirements": []})
    report = run_data_stage(spec, tmp_path / "few.csv", None, tmp_path / "run")
    assert report.sufficiency is not None and not report.sufficiency.enough
    assert report.sufficiency.needed_per_class == {"other": 2}
    assert report.questions and report.questions[0].startswith("I need at least 2 more labelled rows")
    asked = needs_more_data(spec, report)
    assert asked.decision == "ask" and asked.questions == report.questions
    assert needs_more_data(spec, report.model_copy(update={"questions": []})) is spec
