"""`trainer-agent data ...` through typer's CliRunner, and a whole run that asks for more data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from tests.conftest import run_cli
from trainer_agent.agents.cli.main import app

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    return CliRunner()


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
    pd.read_csv(FINE_FOODS / "train.csv").sample(n=400, random_state=0).to_csv(path, index=False)
    return path


def test_catalog_commands(cli: CliRunner, reviews: Path) -> None:
    added = cli.invoke(app, ["data", "add", str(reviews), "--name", "foods", "--description", "food reviews"])
    assert added.exit_code == 0 and "400 rows, labelled" in added.output
    listed = cli.invoke(app, ["data", "list", "--json"])
    assert [e["name"] for e in json.loads(listed.output)] == ["foods"]
    found = cli.invoke(app, ["data", "search", "fine food reviews"])
    assert found.exit_code == 0 and "\tfoods\t" in found.output
    assert "nothing in the catalog matches" in cli.invoke(app, ["data", "search", "x-ray images"]).output
    again = cli.invoke(app, ["data", "add", str(reviews), "--name", "foods"])
    assert again.exit_code == 1 and "already has a dataset named 'foods'" in again.output
    assert cli.invoke(app, ["data", "remove", "foods"]).exit_code == 0


def test_profile_and_plots(cli: CliRunner, reviews: Path, tmp_path: Path) -> None:
    out = tmp_path / "profile"
    result = cli.invoke(
        app, ["data", "profile", str(reviews), "--label", "score", "--text", "review", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "review: text" in result.output and "product" in result.output
    assert "Column 'product' looks suspicious: identifier" in result.output
    assert json.loads((out / "profile.json").read_text())["rows"] == {"train": 400}
    assert (out / "label_distribution.png").is_file()
    missing = cli.invoke(app, ["data", "profile", str(reviews), "--label", "stars"])
    assert missing.exit_code == 1 and "label column 'stars' is not in" in missing.output


def test_label_errors_writes_a_corrected_copy_only(cli: CliRunner, tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame.loc[[0, 1, 2], "target"] = 1 - frame.loc[[0, 1, 2], "target"]  # planted flips
    given = tmp_path / "cancer.csv"
    frame.to_csv(given, index=False)
    before = given.read_bytes()
    fixed = tmp_path / "fixed.csv"
    args = ["data", "label-errors", str(given), "--label", "target", "--apply", "--yes", "--out", str(fixed)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert given.read_bytes() == before
    corrected = pd.read_csv(fixed)
    assert (corrected.loc[[0, 1, 2], "target"] == 1 - frame.loc[[0, 1, 2], "target"]).sum() >= 2
    unasked = cli.invoke(
        app, ["data", "label-errors", str(given), "--label", "target", "--apply", "--out", str(fixed)]
    )
    assert "not approved (no terminal to ask; pass --yes)" in unasked.output


def test_sufficiency_exits_2_with_the_number(cli: CliRunner, tmp_path: Path) -> None:
    few = tmp_path / "few.csv"
    pd.read_csv(FINE_FOODS / "train.csv").sample(n=30, random_state=1).to_csv(few, index=False)
    result = cli.invoke(
        app, ["data", "sufficiency", str(few), "--label", "score", "--text", "review", "--target", "0.95"]
    )
    assert result.exit_code == 2
    assert "error: I need at least" in result.output and "more labelled rows" in result.output


def test_sufficiency_exits_2_when_the_target_is_out_of_reach(cli: CliRunner, reviews: Path) -> None:
    """Enough rows per class is not enough for a target the learning curve does not reach."""
    args = ["data", "sufficiency", str(reviews), "--label", "score", "--text", "review", "--target"]
    far = cli.invoke(app, [*args, "0.97"])
    assert far.exit_code == 2, far.output
    assert "not yet for accuracy 0.97" in far.output and "enough labelled data" not in far.output
    near = cli.invoke(app, [*args, "0.55"])
    assert near.exit_code == 0, near.output
    assert "enough labelled data" in near.output and "already at the target 0.55" in near.output


def test_annotate_takes_min_confidence_zero_and_finds_the_text(
    cli: CliRunner, reviews: Path, tmp_path: Path
) -> None:
    pool = tmp_path / "pool.csv"
    pd.read_csv(FINE_FOODS / "test.csv", nrows=60).drop(columns="score").to_csv(pool, index=False)
    out = tmp_path / "annotated.csv"
    args = ["data", "annotate", str(pool), "--labelled", str(reviews), "--label", "score", "--out", str(out)]
    every = cli.invoke(app, [*args, "--min-confidence", "0"])  # no --text: the one free-text column
    assert every.exit_code == 0, every.output
    assert "the text column is 'review'" in every.output
    assert "is sure (confidence >= 0.00) of 60 of 60 pool rows" in every.output  # 0 is not read as 0.9
    kept = pd.read_csv(out)["annotated_by"].eq("teacher:logistic_regression").sum()
    assert f"{kept} pool rows are labelled and {60 - kept} set aside" in every.output
    assert cli.invoke(app, [*args, "--min-confidence", "1.5"]).exit_code == 2
    ids = tmp_path / "ids.csv"
    pd.read_csv(reviews)[["product", "score"]].to_csv(ids, index=False)  # nothing to learn from
    nothing = cli.invoke(
        app, ["data", "annotate", str(pool), "--labelled", str(ids), "--label", "score", "--out", str(out)]
    )
    assert nothing.exit_code == 1 and "the teacher has nothing to learn from" in nothing.output
    assert "Traceback" not in nothing.output and "internal error" not in nothing.output


def test_annotate_augment_reduce(cli: CliRunner, reviews: Path, tmp_path: Path) -> None:
    pool = tmp_path / "pool.csv"
    pd.read_csv(FINE_FOODS / "test.csv", nrows=60).drop(columns="score").to_csv(pool, index=False)
    out = tmp_path / "annotated.csv"
    args = ["data", "annotate", str(pool), "--labelled", str(reviews), "--label", "score", "--text", "review"]
    result = cli.invoke(app, [*args, "--out", str(out), "--min-confidence", "0.8"])
    assert result.exit_code == 0, result.output
    annotated = pd.read_csv(out)
    assert len(annotated) == 60 and set(annotated["annotated_by"]) <= {
        "teacher:logistic_regression",
        "needs_review",
    }
    bigger = tmp_path / "bigger.csv"
    assert (
        cli.invoke(app, ["data", "augment", str(reviews), "--text", "review", "--out", str(bigger)]).exit_code
        == 0
    )
    assert len(pd.read_csv(bigger)) == 800
    refused = cli.invoke(
        app, ["data", "augment", str(FINE_FOODS / "test.csv"), "--text", "review", "--out", str(bigger)]
    )
    assert refused.exit_code == 1 and "training data only" in refused.output
    cancer = tmp_path / "cancer.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(cancer, index=False)
    reduced = cli.invoke(
        app, ["data", "reduce", str(cancer), "--label", "target", "--out", str(tmp_path / "r.csv")]
    )
    assert reduced.exit_code == 0 and "components keep" in reduced.output
    assert pd.read_csv(tmp_path / "r.csv").shape[1] < 31


@pytest.mark.slow
def test_a_run_with_too_few_rows_after_cleaning_asks_for_the_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Data agent finds too few labelled rows once duplicates are gone; the run ends by asking."""
    from trainer_agent.skills.task.feasibility import MIN_PER_CLASS

    reviews = pd.read_csv(FINE_FOODS / "train.csv").drop_duplicates("review")
    great = reviews[reviews["score"] == "great"].head(MIN_PER_CLASS + 10)
    other = reviews[reviews["score"] == "other"].head(MIN_PER_CLASS - 2)
    data = tmp_path / "few.csv"
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    pd.concat([great, other, other.head(4)]).to_csv(data, index=False)
    result = run_cli(
        "run",
        "Tell whether a fine-food review says the product is great.",
        "--data",
        str(data),
        "--label",
        "score",
        "--text",
        "review",
        "--out",
        str(tmp_path / "runs"),
        "--json",
    )
    assert result.code == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["decision"] == "ask"
    assert any(
        q.startswith("I need at least 2 more labelled rows (2 more 'other')") for q in report["questions"]
    )
    assert (Path(report["run_dir"]) / "data_card.md").is_file()
