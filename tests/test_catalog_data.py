"""Catalog data as an experiment (issue 18): the Data agent finds a compatible catalog data set however
the request is worded, tries it on the person's own rows and labels, asks with the rows, source,
licence and expected gain, and adds the rows to training (never to the test set) only when the trial
passed and the answer was yes; a refusal or a losing data set leaves the person's data as it was."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pexpect
import pytest

from tests.conftest import FINE_FOODS, ROOT, run_cli
from trainer_agent.agents.approvals import rule_for
from trainer_agent.skills.data.catalog import Catalog
from trainer_agent.skills.data.catalog_data import KIND, KIND_UNLICENSED, compatible
from trainer_agent.skills.data.data_stage import run_data_stage
from trainer_agent.skills.specs import TaskSpec, TaskType

README_REQUEST = (
    "Tell whether a review is great (label column score). Accuracy at least 70%, under 1M parameters, "
    "p95 latency under 20 ms."
)
SPEC = TaskSpec(
    request=README_REQUEST,
    task_type=TaskType.TEXT_CLASSIFICATION,
    label_column="score",
    text_column="review",
    feature_columns=["review"],
)


@pytest.fixture(scope="module")
def foods(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reviewer's setting, smaller: 300 of the person's labelled reviews, 1,700 more in the
    catalog (five of them copies of the person's test rows), the same 1,700 with every label
    flipped (data that hurts), and 300 test reviews."""
    folder = tmp_path_factory.mktemp("foods")
    train = pd.read_csv(FINE_FOODS / "train.csv")
    test = pd.read_csv(FINE_FOODS / "test.csv").iloc[:300]
    more = pd.concat([train.iloc[300:2000], test.iloc[:5]], ignore_index=True)
    flipped = more.assign(score=more["score"].map({"great": "other", "other": "great"}))
    paths = {"person": folder / "person.csv", "test": folder / "test.csv"}
    train.iloc[:300].to_csv(paths["person"], index=False)
    test.to_csv(paths["test"], index=False)
    for name, frame in (("more", more), ("flipped", flipped)):
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def _catalog(tmp_path: Path, foods: dict[str, Path], entry: str = "more", licence: str = "MIT") -> str:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    Catalog(url).add(
        foods[entry],
        "grocery-feedback",
        "feedback collected by the support team",  # no word of the request
        source="modeldata 1.1.0 small_fine_foods",
        licence=licence,
    )
    return url


def test_approved_catalog_data_is_added_to_training_only(foods: dict[str, Path], tmp_path: Path) -> None:
    url = _catalog(tmp_path, foods)
    asked: list[tuple[str, str]] = []
    report = run_data_stage(
        SPEC,
        foods["person"],
        foods["test"],
        tmp_path / "run",
        approve=lambda kind, what: asked.append((kind, what)) or True,
        catalog_url=url,
    )
    ((kind, question),) = asked
    assert kind == KIND
    assert "add 1,69" in question and "source: modeldata 1.1.0 small_fine_foods" in question
    assert "licence: MIT" in question and "on your own rows and labels" in question
    (trial,) = report.catalog
    assert trial.passed and trial.decision == "merged" and trial.gain > 0
    assert trial.with_catalog > trial.without
    assert trial.excluded["the input of one of your test rows"] >= 5  # no leakage into the score

    data = tmp_path / "run" / "data"
    merged, test = pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv")
    listed = pd.read_csv(data / "catalog_rows.csv")
    n_person = report.n_train - report.catalog_rows
    assert report.catalog_rows == trial.rows == len(listed) and len(merged) == report.n_train
    assert n_person <= 300 and list(listed["row"]) == list(range(n_person, len(merged)))
    assert set(listed["catalog_entry"]) == {"grocery-feedback"}
    assert list(merged["review"].iloc[n_person:]) == list(listed["review"])
    assert not set(merged["review"]) & set(test["review"])  # the test set is the person's alone
    assert len(test) == report.n_test and not set(listed["review"]) & set(test["review"])
    assert sum(report.label_counts.values()) == len(merged)
    card = (tmp_path / "run" / "data_card.md").read_text()
    assert "## Catalog data (tried on your own rows and labels)" in card
    assert "| `grocery-feedback` | modeldata 1.1.0 small_fine_foods | MIT |" in card and "| merged |" in card


def test_refused_catalog_data_is_not_added(foods: dict[str, Path], tmp_path: Path) -> None:
    url = _catalog(tmp_path, foods, licence="")
    asked: list[str] = []
    report = run_data_stage(
        SPEC,
        foods["person"],
        foods["test"],
        tmp_path / "run",
        approve=lambda kind, what: asked.append(kind) and False,
        catalog_url=url,
    )
    assert asked == [KIND_UNLICENSED]  # no licence recorded: the kind `--approve auto` refuses
    (trial,) = report.catalog
    assert trial.passed and trial.decision == "not approved" and report.catalog_rows == 0
    data = tmp_path / "run" / "data"
    assert len(pd.read_csv(data / "train.csv")) == report.n_train <= 300
    assert not (data / "catalog_rows.csv").exists()
    assert any("'grocery-feedback'" in f and "not approved" in f for f in report.findings)
    assert "none was added" in (tmp_path / "run" / "data_card.md").read_text()


def test_catalog_data_that_does_not_help_is_neither_asked_about_nor_added(
    foods: dict[str, Path], tmp_path: Path
) -> None:
    url = _catalog(tmp_path, foods, entry="flipped")

    def never_asked(kind: str, what: str) -> bool:
        raise AssertionError(f"asked about data that lost its trial: {what}")

    report = run_data_stage(
        SPEC, foods["person"], foods["test"], tmp_path / "run", approve=never_asked, catalog_url=url
    )
    (trial,) = report.catalog
    assert not trial.passed and trial.gain < 0 and trial.decision == "rejected by the check"
    assert report.catalog_rows == 0 and not (tmp_path / "run" / "data" / "catalog_rows.csv").exists()


def test_compatible_data_is_found_however_the_request_is_worded(
    foods: dict[str, Path], tmp_path: Path
) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.add(foods["more"], "grocery-feedback", "feedback collected by the support team")
    catalog.add(foods["more"], "amazon-foods", "Amazon fine-food reviews, labelled great or other")
    renamed = pd.read_csv(foods["more"]).rename(columns={"score": "rating"})
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    catalog.add(tmp_path / "renamed.csv", "rated", "", label="rating")  # another label column name
    iris = pd.DataFrame({"review": ["a", "b", "c"], "score": ["x", "y", "z"]})  # right columns, other labels
    iris.to_csv(tmp_path / "other.csv", index=False)
    catalog.add(tmp_path / "other.csv", "other-labels", "food reviews, great ones")

    # By the data: the person's input column and labels, whatever the words.
    found = compatible(catalog.list(), ["review"], "score", ["great", "other"])
    assert {e.name for e in found} == {"grocery-feedback", "amazon-foods", "rated"}
    # By the words: the README's request names requirements too; they no longer drown the data words.
    pd.DataFrame({"petal": [1.0, 2.0], "species": ["a", "b"]}).to_csv(tmp_path / "flowers.csv", index=False)
    catalog.add(tmp_path / "flowers.csv", "flowers", "petal measurements under 20 ms of latency")
    hits = {h.name for h in catalog.search(README_REQUEST)}
    assert "amazon-foods" in hits and "flowers" not in hits


def test_auto_refuses_only_catalog_data_without_a_licence() -> None:
    assert rule_for("auto", KIND)[0] == "approve"
    rule, by = rule_for("auto", KIND_UNLICENSED)
    assert rule == "deny" and "no licence" in by
    assert rule_for("never", KIND)[0] == "deny"


@pytest.mark.slow
def test_a_run_offers_catalog_data_and_reports_the_gain(
    foods: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(home))
    added = run_cli(
        "data", "add", str(foods["more"]), "--name", "grocery-feedback",
        "--description", "support team notes", "--source", "modeldata 1.1.0", "--licence", "MIT",
    )  # fmt: skip
    assert added.code == 0 and "licence MIT" in added.stdout, added.stderr
    result = run_cli(
        "run", README_REQUEST, "--data", str(foods["person"]), "--test-data", str(foods["test"]),
        "--out", str(tmp_path / "runs"), "--sandbox", "local", "--llm", "offline", "--approve", "auto",
        "--max-trials", "1", "--max-epochs", "1",
    )  # fmt: skip
    assert result.code in (0, 3), result.stdout + result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]
    (approval,) = [r for r in records if r["type"] == "approval" and r["kind"] == KIND]
    assert approval["decision"] == "approve" and approval["by"] == "policy: --approve auto"
    assert "Expected gain" in approval["description"] and "licence: MIT" in approval["description"]
    report = json.loads((run_dir / "report.json").read_text())
    (trial,) = report["data"]["catalog"]
    assert trial["decision"] == "merged" and trial["by"] == "policy: --approve auto"
    assert report["data"]["catalog_rows"] == trial["rows"] > 1000
    assert report["test_data"]["rows"] <= 300  # scored on the person's test file only
    text = (run_dir / "report.md").read_text()
    assert "catalog data 'grocery-feedback'" in text and "merged by policy: --approve auto" in text
    assert "catalog 'grocery-feedback' merged" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["approve", "deny"])
def test_chat_asks_the_person_about_catalog_data(
    answer: str, foods: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    Catalog().add(foods["more"], "grocery-feedback", "support team notes", source="team", licence="internal")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
        "TERM": "xterm",
        "COLUMNS": "120",
    }
    argv = ["-m", "trainer_agent.agents.cli", "chat", "--out", str(tmp_path / "runs"),
            "--sandbox", "local", "--llm", "offline",
            "--data", str(foods["person"]), "--test-data", str(foods["test"])]  # fmt: skip
    child = pexpect.spawn(sys.executable, argv, cwd=str(ROOT), env=env, encoding="utf-8", timeout=120)
    child.logfile_read = (tmp_path / "session.log").open("w", encoding="utf-8")
    try:
        child.expect("you> ")
        child.sendline(README_REQUEST)
        child.expect("Approve this plan")
        child.expect(r"\[a/d/e/x\]: ")
        child.sendline("a")
        while True:
            seen = child.expect(
                [r"rows of the catalog data set 'grocery-feedback'", r"relabel \d+", r"train_model\("]
            )
            if seen == 2:
                break
            child.expect(r"\[a/d/e/x\]: ")
            child.sendline(answer if seen == 0 else "d")
        child.sendintr()  # the data step is done: stop before training
        child.expect("Stop the run")
        child.sendline("y")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    (run_dir,) = (tmp_path / "runs").iterdir()
    data = json.loads((run_dir / "state.json").read_text())["steps"]["data"]["result"]
    (trial,) = data["catalog"]
    assert trial["by"] == "person at the terminal" and trial["licence"] == "internal"
    if answer == "approve":
        assert trial["decision"] == "merged" and data["catalog_rows"] == trial["rows"] > 1000
        assert (run_dir / "data" / "catalog_rows.csv").is_file()
    else:
        assert trial["decision"] == "not approved" and data["catalog_rows"] == 0
        assert not (run_dir / "data" / "catalog_rows.csv").exists()


def test_a_catalog_made_before_source_and_licence_gains_them(foods: dict[str, Path], tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the table as catalogs were created before (no source, licence)
        conn.execute(
            "CREATE TABLE datasets (name VARCHAR(200) PRIMARY KEY, path TEXT NOT NULL, description TEXT "
            "NOT NULL, kind VARCHAR(40) NOT NULL, label_column VARCHAR(200), columns TEXT NOT NULL, "
            "classes TEXT NOT NULL, rows INTEGER, added VARCHAR(40) NOT NULL, words TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO datasets VALUES ('old', '/x.csv', 'old reviews', 'labelled', 'score', "
            "'[\"review\", \"score\"]', '[\"great\", \"other\"]', 3, '2026-01-01', 'old review')"
        )
    catalog = Catalog(f"sqlite:///{db}")
    catalog.add(foods["person"], "new", "reviews", source="team", licence="CC-BY-4.0")
    entries = {e.name: e for e in catalog.list()}
    assert (entries["old"].source, entries["old"].licence) == ("", "")
    assert (entries["new"].source, entries["new"].licence) == ("team", "CC-BY-4.0")
