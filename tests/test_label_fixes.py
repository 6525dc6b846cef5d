"""Relabelling as an experiment (skills.data.label_fixes), on real data: a clean table keeps its labels,
planted flips are corrected with high precision, a change that loses on the person's own labels is
listed but not applied, no class loses more than the cap, the person sees the evidence, and the
Model agent's scores are computed on the person's labels even when it fits on corrected ones.

Measured with seed 0 on this code (the floors sit below, scripts/bench/label_fixes.py has more):
digits with 5% flips: 68 corrections applied, precision 0.88, the corrected version higher in 100%
of the paired bootstrap resamples (seeds 1 and 2 of the flips: 58 and 72 applied, precision 0.88
and 0.92, 97% and 97%); digits clean: 5 proposed, higher in 27% (needs 95%), none applied;
breast_cancer clean: 1 proposed, 74%, none applied.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from tests.test_label_errors import _bunch
from trainer_agent.skills.data.data_stage import run_data_stage
from trainer_agent.skills.data.label_errors import find_label_errors, flip_labels, precision_recall
from trainer_agent.skills.data.label_fixes import MAX_CLASS_SHARE, fix_labels, paired_win_share, propose
from trainer_agent.skills.specs import DataReport, LabelIssue, TaskSpec, TaskType

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"
MARKER = " qqmarker" * 20  # a made-up word, weighty enough in TF-IDF to be learnt from


@pytest.fixture(autouse=True)
def _no_home_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def noisy_digits() -> dict:
    clean = _bunch(load_digits)
    noisy, planted = flip_labels(clean, "target", 0.05, seed=0)
    return {"clean": clean, "noisy": noisy, "planted": planted, "found": find_label_errors(noisy, "target")}


def _recorder(answer: bool) -> tuple[list[tuple[str, str]], object]:
    asked: list[tuple[str, str]] = []

    def approve(kind: str, what: str) -> bool:
        asked.append((kind, what))
        return answer

    return asked, approve


@pytest.mark.parametrize("loader", [load_breast_cancer, load_digits])
def test_clean_tables_keep_their_labels_under_auto(loader: object) -> None:
    clean = _bunch(loader)
    found = find_label_errors(clean, "target")
    asked, approve = _recorder(True)  # --approve auto says yes to whatever it is asked
    fix = fix_labels(clean, "target", found.issues, approve)
    assert fix.applied == [] and asked == []
    if fix.trial is not None:  # something was proposed, and the check turned it down
        assert not fix.trial.passed and fix.trial.decision == "rejected by the check"


def test_planted_flips_are_corrected_precisely_within_the_cap(noisy_digits: dict) -> None:
    noisy, planted = noisy_digits["noisy"], noisy_digits["planted"]
    before = noisy.copy()
    asked, approve = _recorder(True)
    fix = fix_labels(noisy, "target", noisy_digits["found"].issues, approve)
    precision, recall = precision_recall({i.row for i in fix.applied}, planted)
    print(f"digits 5% flips: {len(fix.applied)} applied, P={precision:.2f} R={recall:.2f}; {fix.trial}")
    assert len(fix.applied) >= 20 and precision >= 0.75
    assert noisy.equals(before)  # the input is never modified
    truth = noisy_digits["clean"]["target"]
    assert sum(truth.iloc[i.row] == i.suggested for i in fix.applied) >= 0.75 * len(fix.applied)
    counts = noisy["target"].value_counts()
    for given, n in pd.Series([i.given for i in fix.applied]).value_counts().items():
        assert n <= MAX_CLASS_SHARE * counts[given]  # the per-class cap
    # The person saw the evidence: both scores and the rows per class.
    t = fix.trial
    assert t is not None and t.passed and t.decision == "applied" and t.with_corrections > t.without
    assert len(asked) == 1 and asked[0][0] == "relabel"
    what = asked[0][1]
    assert f"{t.without:.4f}" in what and f"{t.with_corrections:.4f}" in what
    assert all(f"{n} labelled '{c}'" in what for c, n in t.per_class.items() if n)

    denied_asked, deny = _recorder(False)
    denied = fix_labels(noisy, "target", noisy_digits["found"].issues, deny)
    assert denied_asked and denied.applied == [] and denied.trial and denied.trial.decision == "not approved"


def test_propose_keeps_the_most_confident_within_the_cap() -> None:
    labels = ["a"] * 100 + ["b"] * 40
    issues = [LabelIssue(row=i, given="a", suggested="b", confidence=0.9 + i / 1000) for i in range(30)]
    issues += [LabelIssue(row=100 + i, given="b", suggested="a", confidence=0.95) for i in range(3)]
    issues.append(LabelIssue(row=131, given="b", suggested="a", confidence=0.5))  # under the bar
    chosen, capped, unconfirmed = propose(issues, labels, min_confidence=0.9, max_share=0.05)
    from_a = [i.row for i in chosen if i.given == "a"]
    assert sorted(from_a) == [25, 26, 27, 28, 29] and capped == 25 + 1  # 5 of 100 'a'; 2 of 40 'b'
    assert sum(i.given == "b" for i in chosen) == 2 and unconfirmed == 0
    # A class-balanced probe that backs none of the 'b' -> 'a' suggestions leaves them out.
    balanced = np.tile([0.5, 0.5], (140, 1))  # columns: a, b
    balanced[:30] = [0.02, 0.98]
    chosen, capped, unconfirmed = propose(issues, labels, 0.9, 0.05, balanced, ["a", "b"])
    assert {i.given for i in chosen} == {"a"} and len(chosen) == 5 and unconfirmed == 3


def test_paired_win_share() -> None:
    assert paired_win_share(np.array([0.0, 1.0] * 30)) == 1.0  # every resample draws a win
    assert paired_win_share(np.zeros(10)) == 0.0
    assert 0.3 < paired_win_share(np.array([1.0, -1.0] * 50)) < 0.7


def test_a_rejected_change_is_listed_not_applied(tmp_path: Path) -> None:
    _bunch(load_digits).to_csv(tmp_path / "digits.csv", index=False)
    spec = TaskSpec(request="read digits", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="target")
    asked, approve = _recorder(True)
    report = run_data_stage(spec, tmp_path / "digits.csv", None, tmp_path / "run", approve=approve)
    run = tmp_path / "run"
    t = report.label_fix
    assert t is not None and t.proposed > 0 and not t.passed and t.decision == "rejected by the check"
    assert asked == [] and report.labels_corrected == 0 and report.corrections_path is None
    assert not (run / "data" / "label_corrections.csv").exists()
    assert len(pd.read_csv(run / "data" / "label_issues.csv")) >= t.proposed  # listed
    line = next(f for f in report.findings if f.startswith("Label check"))
    assert (
        "rejected by the check" in line and f"{t.without:.4f}" in line and f"{t.with_corrections:.4f}" in line
    )
    card = (run / "data_card.md").read_text(encoding="utf-8")
    assert "## Relabelling trial" in card and f"{t.without:.4f}" in card and "rejected by the check" in card
    profile = json.loads((run / "data" / "profile.json").read_text())
    assert profile["label_errors"]["relabel_trial"]["passed"] is False


def _sentinel_corrections(labels: pd.Series, marked: np.ndarray, classes: tuple[str, str]) -> pd.DataFrame:
    """'Corrections' that make the label a function of a marker the person's labels know nothing
    about: fitted on, they are learnt perfectly; scored on, they would give a near-perfect CV score."""
    wanted = np.where(marked, classes[0], classes[1])
    rows = np.flatnonzero(labels.to_numpy() != wanted)
    return pd.DataFrame(
        {
            "row": rows,
            "given": labels.to_numpy()[rows],
            "suggested": wanted[rows],
            "confidence": 0.99,
            "preview": "",
        }
    )


def _report(folder: Path, label: str, **kw: object) -> DataReport:
    train, test, corrections = folder / "train.csv", folder / "test.csv", folder / "label_corrections.csv"
    frame = pd.read_csv(train)
    return DataReport(
        train_path=str(train),
        test_path=str(test),
        test_from="split",
        n_train=len(frame),
        n_test=len(pd.read_csv(test)),
        columns=list(frame.columns),
        label_column=label,
        corrections_path=str(corrections),
        **kw,  # type: ignore[arg-type]
    )


def test_cross_validation_scores_on_the_persons_labels_tabular(tmp_path: Path) -> None:
    from trainer_agent.skills.model.train import train_model

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    frame["marker"] = np.random.default_rng(0).random(len(frame))
    train, test = frame.iloc[:450].reset_index(drop=True), frame.iloc[450:]
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    fixes = _sentinel_corrections(train["target"], train["marker"].to_numpy() > 0.5, ("malignant", "benign"))
    fixes.to_csv(tmp_path / "label_corrections.csv", index=False)
    assert len(fixes) > 150
    spec = TaskSpec(request="diagnosis", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="target")
    data = _report(tmp_path, "target")
    result = train_model(
        spec, data, tmp_path / "run", families=["logistic-regression", "random-forest-classifier"]
    )
    scored = [c["score"] for c in result.candidates if c.get("score") is not None]
    print("cv scores", scored, "test", result.metrics)
    # Fitted on the marker: on the corrected labels the CV score would be about 1.0; on the
    # person's labels the marker is noise, so the score stays far below that, as on the test set.
    assert scored and max(scored) < 0.8
    assert result.metrics["accuracy"] < 0.8  # the model did learn the corrections


def test_cross_validation_scores_on_the_persons_labels_text(tmp_path: Path) -> None:
    from trainer_agent.skills.model.train import train_model

    reviews = pd.read_csv(FINE_FOODS / "train.csv").drop_duplicates("review").head(600).reset_index(drop=True)
    marked = np.random.default_rng(0).random(len(reviews)) > 0.5
    reviews["review"] = [f"{t}{MARKER}" if m else t for t, m in zip(reviews["review"], marked, strict=True)]
    train, test = reviews.iloc[:450].reset_index(drop=True), reviews.iloc[450:]
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    fixes = _sentinel_corrections(train["score"], marked[:450], ("great", "other"))
    fixes.to_csv(tmp_path / "label_corrections.csv", index=False)
    spec = TaskSpec(
        request="reviews",
        task_type=TaskType.TEXT_CLASSIFICATION,
        label_column="score",
        text_column="review",
    )
    data = _report(tmp_path, "score", text_column="review")
    result = train_model(spec, data, tmp_path / "run", families=["tfidf-logistic-regression"])
    scored = [c["score"] for c in result.candidates if c.get("score") is not None]
    print("cv scores", scored, "test", result.metrics)
    assert scored and max(scored) < 0.8
    assert result.metrics["accuracy"] < 0.8


def test_corrections_that_do_not_fit_the_training_file_are_one_sentence(tmp_path: Path) -> None:
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.model.train import train_model

    frame = _bunch(load_breast_cancer)
    frame.iloc[:400].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[400:].to_csv(tmp_path / "test.csv", index=False)
    pd.DataFrame([{"row": 9999, "given": "class_0", "suggested": "class_1", "confidence": 0.99}]).to_csv(
        tmp_path / "label_corrections.csv", index=False
    )
    spec = TaskSpec(request="diagnosis", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="target")
    data = _report(tmp_path, "target")
    with pytest.raises(UserError, match="do not fit"):
        train_model(spec, data, tmp_path / "run", families=["logistic-regression"])


def test_the_run_report_shows_the_trial() -> None:
    from trainer_agent.skills.report import render_markdown
    from trainer_agent.skills.specs import LabelFixTrial, RunReport

    trial = LabelFixTrial(
        proposed=12, per_class={"no": 12}, without=0.8123, with_corrections=0.8011, gain=-0.0112, wins=0.02
    )
    trial.decision = "rejected by the check"
    data = {
        "train_rows": 100,
        "test_rows": 20,
        "dropped_rows": 0,
        "duplicate_rows": 0,
        "labels_corrected": 0,
        "label_fix": trial.model_dump(),
        "findings": [],
    }
    report = RunReport(run_id="r", run_dir="runs/r", decision="accept", brain="offline", data=data)
    text = render_markdown(report)
    assert "relabelling trial: 12 corrections proposed" in text
    assert "0.8123 without, 0.8011 with" in text and "rejected by the check" in text


def test_the_data_steps_lines_show_the_decision() -> None:
    from trainer_agent.agents.summaries import _relabelling
    from trainer_agent.agents.terminal import result_line
    from trainer_agent.skills.specs import LabelFixTrial

    trial = LabelFixTrial(proposed=7, without=0.9001, with_corrections=0.9123, gain=0.0122, wins=0.99)
    trial.decision, trial.reason = "applied", "the corrected labels win"
    data = DataReport(
        train_path="data/train.csv",
        test_path="data/test.csv",
        test_from="split",
        n_train=100,
        n_test=20,
        columns=["x", "y"],
        label_column="y",
        label_fix=trial,
    )
    line = result_line(data.model_dump_json())
    assert "relabelling 7 rows applied (0.9001 -> 0.9123 on your labels)" in line
    assert "0.9001 without, 0.9123 with" in _relabelling(data)
    assert _relabelling(data.model_copy(update={"label_fix": None})) == ""
