"""prepare_data on real data (fine foods reviews, iris, diabetes) with planted problems counted exactly."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from trainer_agent.skills.data.data_prep import normalize_text, prepare_data
from trainer_agent.skills.errors import NeedsInput, UserError
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"

TEXT_SPEC = TaskSpec(
    request="tell great reviews from the others",
    task_type=TaskType.TEXT_CLASSIFICATION,
    label_column="score",
    text_column="review",
    feature_columns=["review"],
)
IRIS_SPEC = TaskSpec(
    request="predict the species", task_type=TaskType.TABULAR_CLASSIFICATION, label_column="species"
)
DIABETES_SPEC = TaskSpec(
    request="predict disease progression", task_type=TaskType.TABULAR_REGRESSION, label_column="target"
)


def _key(text: str) -> str:
    """The review as cleaning leaves it, computed independently of the code under test."""
    return " ".join(text.replace("<br />", " ").split())


@pytest.fixture(scope="module")
def foods() -> tuple[pd.DataFrame, pd.DataFrame]:
    """300 training and 100 test reviews with no duplicates and no overlap between them."""
    train = pd.read_csv(FINE_FOODS / "train.csv", nrows=400)
    test = pd.read_csv(FINE_FOODS / "test.csv", nrows=150)
    test = test[~test["review"].map(_key).duplicated()].head(100).reset_index(drop=True)
    train = train[~train["review"].map(_key).duplicated()]
    train = train[~train["review"].map(_key).isin(set(test["review"].map(_key)))]
    train = train.head(300).reset_index(drop=True)
    assert len(train) == 300 and len(test) == 100
    return train, test


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["species"] = [data.target_names[t] for t in data.target]
    return frame


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    frame = load_diabetes(as_frame=True, scaled=False).frame
    assert not frame.drop(columns="target").duplicated().any()
    return frame


def _digest(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _note(report: DataReport, pattern: str) -> str:
    found = [n for n in report.notes if re.search(pattern, n)]
    assert len(found) == 1, (pattern, report.notes)
    return found[0]


def _error(cls: type[Exception], *args: object, **kwargs: object) -> str:
    with pytest.raises(UserError) as info:
        prepare_data(*args, **kwargs)  # type: ignore[arg-type]
    assert type(info.value) is cls
    return str(info.value)


# --- text classification on the fine-foods reviews ----------------------------------------


def test_user_test_file_is_cleaned_and_written(tmp_path: Path, foods) -> None:
    train, test = foods
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    before = _digest(train_csv, test_csv)

    report = prepare_data(TEXT_SPEC, str(train_csv), str(test_csv), tmp_path / "run")

    assert _digest(train_csv, test_csv) == before
    assert report.test_from == "user"
    assert (report.n_train, report.n_test, report.dropped_rows, report.duplicate_rows) == (300, 100, 0, 0)
    assert report.train_path == str((tmp_path / "run" / "data" / "train.csv").resolve())
    assert Path(report.test_path).is_absolute() and Path(report.test_path).is_file()
    assert report.columns == ["review", "score"] and report.feature_columns == ["review"]
    assert report.label_counts == train["score"].value_counts().to_dict()
    assert report.missing_values == {"product": 0, "review": 0, "score": 0}

    written = pd.read_csv(report.train_path)
    assert list(written.columns) == ["review", "score"]
    assert written["review"].tolist() == train["review"].map(_key).tolist()
    assert not written["review"].str.contains("<br", regex=False).any()
    assert not written["review"].str.contains("  ", regex=False).any()
    had_breaks = int(train["review"].str.contains("<br />", regex=False).sum())
    assert had_breaks > 0
    changed = int((train["review"] != train["review"].map(_key)).sum())
    assert f"in {changed} texts" in _note(report, rf"^'{re.escape(str(train_csv))}': normalized")
    assert pd.read_csv(report.test_path)["review"].tolist() == test["review"].map(_key).tolist()

    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    for heading in ("## Sources", "## Rows", "## Columns", "## Labels", "## Text length", "## Cleaning"):
        assert heading in card
    assert str(train_csv.resolve()) in card and str(test_csv.resolve()) in card
    great = report.label_counts["great"]
    assert f"| `great` | {great} | {100 * great / 300:.1f} |" in card
    ratio = max(report.label_counts.values()) / min(report.label_counts.values())
    assert f"Imbalance ratio (largest / smallest training class): {ratio:.2f}" in card
    n = written["review"].str.len()
    assert f"| train | {n.min()} | {n.median():.4g} | {n.mean():.4g} | {n.max()} |" in card


def test_planted_problems_are_counted_exactly(tmp_path: Path, foods) -> None:
    train, test = foods
    spaced = "  " + train["review"].iloc[7].replace(" ", "   ") + " "
    whitespace_twin = train.iloc[[7]].assign(review=spaced)
    planted = pd.concat(
        [
            train,
            train.iloc[:6],  # 6 exact duplicates
            whitespace_twin,  # a 7th duplicate once whitespace is normalized
            test.iloc[:5],  # 5 rows that leak into the test set
            pd.DataFrame(
                {
                    "product": ["P1", "P2", "P3", "P4", "P5"],
                    "review": ["", "", "   ", "<br /><br />", "<br/>\t"],  # 5 empty texts
                    "score": ["great"] * 5,
                }
            ),
            pd.DataFrame(
                {
                    "product": ["Q1", "Q2", "Q3", "Q4"],
                    "review": [f"a planted review without a label, number {i}" for i in range(4)],
                    "score": [None, None, None, "  "],  # 4 missing labels
                }
            ),
        ],
        ignore_index=True,
    ).sample(frac=1.0, random_state=3)
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    planted.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    before = _digest(train_csv, test_csv)

    report = prepare_data(TEXT_SPEC, train_csv, test_csv, tmp_path / "run")

    assert _digest(train_csv, test_csv) == before
    assert report.duplicate_rows == 7
    assert (report.n_train, report.n_test) == (300, 100)
    assert report.dropped_rows == 7 + 5 + 5 + 4
    assert report.missing_values == {"product": 0, "review": 3, "score": 4}
    _note(
        report,
        r"dropped 7 duplicate rows \(the same 'review' and 'score' as an earlier row once cleaned; "
        r"'product' not compared: the model does not use them\)\.$",
    )
    _note(report, r"dropped 5 rows whose text also appears in the test set")
    _note(report, r"dropped 5 rows with empty text in 'review'\.$")
    _note(report, r"dropped 4 rows with no label in 'score'\.$")
    written = pd.read_csv(report.train_path)
    assert sorted(written["review"]) == sorted(train["review"].map(_key))
    assert not set(written["review"]) & set(pd.read_csv(report.test_path)["review"])
    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    assert "Rows dropped: 21 (of which duplicates: 7)." in card
    assert "dropped 5 rows whose text also appears in the test set" in card


def test_test_file_is_cleaned_but_not_deduplicated(tmp_path: Path, foods) -> None:
    train, test = foods
    extra = pd.DataFrame(
        {"product": ["X", "Y"], "review": ["a labelled review that is kept", "  "], "score": [None, "great"]}
    )
    planted = pd.concat([test, test.iloc[:1], extra], ignore_index=True)
    train_csv, test_jsonl = tmp_path / "train.csv", tmp_path / "test.jsonl"
    train.to_csv(train_csv, index=False)
    planted.to_json(test_jsonl, orient="records", lines=True)

    report = prepare_data(TEXT_SPEC, train_csv, test_jsonl, tmp_path / "run")

    assert report.n_test == 101  # the repeated test row stays; no label and empty text go
    assert report.duplicate_rows == 0 and report.dropped_rows == 2
    _note(report, rf"^'{re.escape(str(test_jsonl))}': dropped 1 row with no label")
    _note(report, rf"^'{re.escape(str(test_jsonl))}': dropped 1 row with empty text")


def test_split_is_stratified_and_deterministic(tmp_path: Path, foods) -> None:
    train, _ = foods
    train_csv = tmp_path / "train.csv"
    train.to_csv(train_csv, index=False)

    first = prepare_data(TEXT_SPEC, train_csv, None, tmp_path / "a", seed=7)
    again = prepare_data(TEXT_SPEC, train_csv, None, tmp_path / "b", seed=7)
    other = prepare_data(TEXT_SPEC, train_csv, None, tmp_path / "c", seed=8)

    assert first.test_from == "split"
    assert (first.n_train, first.n_test) == (240, 60)
    assert _digest(Path(first.train_path), Path(first.test_path)) == _digest(
        Path(again.train_path), Path(again.test_path)
    )
    assert _digest(Path(first.test_path)) != _digest(Path(other.test_path))
    held_out = pd.read_csv(first.test_path)
    kept = pd.read_csv(first.train_path)
    assert not set(held_out["review"]) & set(kept["review"])
    assert sorted([*held_out["review"], *kept["review"]]) == sorted(train["review"].map(_key))
    overall = train["score"].value_counts(normalize=True)
    for label, share in overall.items():
        assert abs(int((held_out["score"] == label).sum()) - share * 60) <= 1
    assert first.label_counts == kept["score"].value_counts().to_dict()
    _note(first, r"^Test set: a stratified 20% split .* with seed 7: 240 train / 60 test rows\.$")


def test_a_class_with_one_row_gives_a_random_split(tmp_path: Path, foods) -> None:
    train, _ = foods
    lone = pd.DataFrame({"product": ["Z"], "review": ["an average snack, nothing special"], "score": ["meh"]})
    train_csv = tmp_path / "train.csv"
    pd.concat([train.head(99), lone]).to_csv(train_csv, index=False)

    report = prepare_data(TEXT_SPEC, train_csv, None, tmp_path / "run", seed=1)

    assert report.n_train + report.n_test == 100
    _note(report, r"^Test set: a random 20% split .*not stratified: 'meh' has fewer than 2 rows")


def test_text_normalization() -> None:
    raw = pd.Series(["  Good<br />tea<BR>and\t\tmore<br/>  ", "plain", None, " <br /> "])
    assert normalize_text(raw).tolist() == ["Good tea and more", "plain", pd.NA, ""]


# --- tabular data --------------------------------------------------------------------------


def test_iris_with_integer_classes_and_a_tsv_test_file(tmp_path: Path, iris: pd.DataFrame) -> None:
    frame = iris.assign(species=load_iris().target.astype(float))
    frame.loc[3, "species"] = np.nan  # integer classes read back as floats because of the gap
    train, test = frame.iloc[::2], frame.iloc[1::2]
    train_csv, test_tsv = tmp_path / "iris_train.csv", tmp_path / "iris_test.tsv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_tsv, index=False, sep="\t")

    report = prepare_data(IRIS_SPEC, train_csv, test_tsv, tmp_path / "run")

    assert report.feature_columns == list(iris.columns[:4])
    _note(report, r"^No feature columns were named; using every other column")
    assert report.label_counts == {"0": 25, "1": 25, "2": 24}
    # Iris repeats one flower (rows 101 and 142); the halves split them, so it is a leak.
    assert report.duplicate_rows == 0 and report.n_train == 74
    _note(report, r"dropped 1 row whose feature values also appear in the test set")
    assert report.n_test == 74 and report.missing_values["species"] == 0
    _note(report, rf"^'{re.escape(str(test_tsv))}': dropped 1 row with no label in 'species'")
    written_test = pd.read_csv(report.test_path, dtype={"species": str})
    assert set(written_test["species"]) == {"0", "1", "2"}
    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    assert "## Numeric features (training set)" in card
    assert "| `petal length (cm)` |" in card


def test_diabetes_regression_with_planted_leakage(tmp_path: Path, diabetes: pd.DataFrame) -> None:
    train, test = diabetes.iloc[:350], diabetes.iloc[350:]
    planted = pd.concat([train, train.iloc[:3], test.iloc[:4]], ignore_index=True)
    train_parquet, test_jsonl = tmp_path / "train.parquet", tmp_path / "test.jsonl"
    planted.to_parquet(train_parquet, index=False)
    test.to_json(test_jsonl, orient="records", lines=True)
    before = _digest(train_parquet, test_jsonl)

    report = prepare_data(DIABETES_SPEC, train_parquet, test_jsonl, tmp_path / "run")

    assert _digest(train_parquet, test_jsonl) == before
    assert (report.n_train, report.n_test, report.duplicate_rows, report.dropped_rows) == (350, 92, 3, 7)
    _note(report, r"dropped 4 rows whose feature values also appear in the test set")
    assert report.label_counts == {}
    written = pd.read_csv(report.train_path)
    np.testing.assert_allclose(written["target"].to_numpy(), train["target"].to_numpy())
    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    t = train["target"]
    assert f"| train | {t.min():.4g} | {t.median():.4g} | {t.mean():.4g} | {t.max():.4g} |" in card
    assert "| `bmi` |" in card


def test_split_regression(tmp_path: Path, diabetes: pd.DataFrame) -> None:
    path = tmp_path / "diabetes.csv"
    diabetes.to_csv(path, index=False)
    report = prepare_data(DIABETES_SPEC, path, None, tmp_path / "run", test_size=0.25)
    assert (report.n_train, report.n_test) == (331, 111)
    _note(report, r"^Test set: a random 25% split")


# --- bad input: one clear sentence each ----------------------------------------------------


@pytest.fixture
def foods_csv(tmp_path: Path, foods) -> Path:
    path = tmp_path / "reviews.csv"
    foods[0].head(50).to_csv(path, index=False)
    return path


def test_missing_label_column(tmp_path: Path, foods_csv: Path) -> None:
    spec = TEXT_SPEC.model_copy(update={"label_column": "rating"})
    message = _error(UserError, spec, foods_csv, None, tmp_path / "run")
    assert message == f"label column 'rating' is not in '{foods_csv}'; columns are: product, review, score"


def test_missing_text_column(tmp_path: Path, foods_csv: Path) -> None:
    spec = TEXT_SPEC.model_copy(update={"text_column": "body", "feature_columns": ["body"]})
    assert _error(UserError, spec, foods_csv, None, tmp_path / "run").startswith(
        f"text column 'body' is not in '{foods_csv}'"
    )


def test_missing_feature_columns(tmp_path: Path, iris: pd.DataFrame) -> None:
    path = tmp_path / "iris.csv"
    iris.to_csv(path, index=False)
    spec = IRIS_SPEC.model_copy(update={"feature_columns": ["petal width", "sepal length (cm)", "colour"]})
    assert _error(UserError, spec, path, None, tmp_path / "run").startswith(
        f"feature columns 'petal width', 'colour' are not in '{path}'"
    )


def test_test_file_missing_columns(tmp_path: Path, foods, foods_csv: Path) -> None:
    test_csv = tmp_path / "holdout.csv"
    foods[1].drop(columns="score").to_csv(test_csv, index=False)
    message = _error(UserError, TEXT_SPEC, foods_csv, test_csv, tmp_path / "run")
    assert message.startswith(f"the test file '{test_csv}' lacks column 'score' that '{foods_csv}' has")


def test_single_class(tmp_path: Path, foods) -> None:
    path = tmp_path / "great_only.csv"
    foods[0].head(40).assign(score="great").to_csv(path, index=False)
    assert _error(UserError, TEXT_SPEC, path, None, tmp_path / "run") == (
        f"the label column 'score' in '{path}' has only one class ('great'); a classifier needs at least two"
    )


def test_non_numeric_regression_label(tmp_path: Path, diabetes: pd.DataFrame) -> None:
    path = tmp_path / "diabetes.csv"
    frame = diabetes.head(30).astype({"target": object})
    frame.loc[2, "target"] = "abc"
    frame.to_csv(path, index=False)
    assert _error(UserError, DIABETES_SPEC, path, None, tmp_path / "run") == (
        f"label column 'target' in '{path}' is not numeric (e.g. value 'abc' in row 3); "
        "a regression needs numbers"
    )


def test_no_rows_left_after_cleaning(tmp_path: Path, foods) -> None:
    path = tmp_path / "unlabelled.csv"
    foods[0].head(20).assign(score="").to_csv(path, index=False)
    message = _error(UserError, TEXT_SPEC, path, None, tmp_path / "run")
    assert message == f"'{path}' has no usable rows after cleaning: dropped 20 rows with no label in 'score'"


def test_every_training_row_leaks(tmp_path: Path, foods) -> None:
    path = tmp_path / "same.csv"
    foods[1].head(20).to_csv(path, index=False)
    copy = tmp_path / "same_test.csv"
    foods[1].head(20).to_csv(copy, index=False)
    assert "also appears in the test set" in _error(UserError, TEXT_SPEC, path, copy, tmp_path / "run")


@pytest.mark.parametrize("bad", ["missing.csv", "directory"])
def test_unreadable_training_file(tmp_path: Path, bad: str) -> None:
    (tmp_path / "directory").mkdir()
    assert f"'{tmp_path / bad}'" in _error(UserError, TEXT_SPEC, tmp_path / bad, None, tmp_path / "run")


def test_non_utf8_test_file(tmp_path: Path, foods_csv: Path) -> None:
    test_csv = tmp_path / "holdout.csv"
    test_csv.write_bytes(b"product,review,score\nB1,caf\xe9 cr\xe8me,great\n")
    assert _error(UserError, TEXT_SPEC, foods_csv, test_csv, tmp_path / "run") == (
        f"'{test_csv}' is not UTF-8 text: byte 0xe9 at offset 27; re-save it as UTF-8 (it reads as cp1252)"
    )


def test_no_label_column_in_spec_needs_input(tmp_path: Path, foods_csv: Path) -> None:
    spec = TEXT_SPEC.model_copy(update={"label_column": None})
    assert "product, review, score" in _error(NeedsInput, spec, foods_csv, None, tmp_path / "run")


def test_output_never_overwrites_the_input(tmp_path: Path, foods) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / "train.csv"
    foods[0].head(50).to_csv(path, index=False)
    before = _digest(path)
    assert "would overwrite" in _error(UserError, TEXT_SPEC, path, None, tmp_path)
    assert _digest(path) == before


def test_leakage_matches_whole_numbers_across_dtypes(tmp_path: Path, iris: pd.DataFrame) -> None:
    """A feature read as int in one file and as float (it has a gap) in the other still matches."""
    frame = iris.assign(petals=np.arange(150) % 7)
    train, test = frame.iloc[:100], pd.concat([frame.iloc[100:], frame.iloc[:3]]).astype({"petals": float})
    test.loc[120, "petals"] = np.nan
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    assert pd.api.types.is_integer_dtype(pd.read_csv(train_csv)["petals"])

    report = prepare_data(IRIS_SPEC, train_csv, test_csv, tmp_path / "run")

    assert report.n_train == 97
    _note(report, r"dropped 3 rows whose feature values also appear in the test set")


def test_classes_missing_from_one_side_are_noted(tmp_path: Path, foods) -> None:
    train, test = foods
    lone = pd.DataFrame({"product": ["Z"], "review": ["an average snack, nothing special"], "score": ["meh"]})
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    train.to_csv(train_csv, index=False)
    pd.concat([test, lone]).to_csv(test_csv, index=False)

    report = prepare_data(TEXT_SPEC, train_csv, test_csv, tmp_path / "run")

    assert report.n_test == 101 and set(report.label_counts) == {"great", "other"}
    _note(report, r"^Test classes 'meh' never occur in training")
    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    assert "| `meh` | 0 | 0.0 | 1 | 1.0 |" in card


def test_text_column_cannot_be_the_label(tmp_path: Path, foods_csv: Path) -> None:
    spec = TEXT_SPEC.model_copy(update={"text_column": "score", "feature_columns": []})
    message = _error(UserError, spec, foods_csv, None, tmp_path / "run")
    assert message == "'score' cannot be both the text column and the label column"


# --- numbers with a few text cells ---------------------------------------------------------


def test_a_few_text_cells_in_a_number_column_are_read_as_missing(tmp_path: Path, iris: pd.DataFrame) -> None:
    """Three text cells among 150 lengths: the column stays numeric, the cells become missing,
    and one finding names the file, the column, the values and their rows (data rows, 1-based)."""
    frame = iris.astype({"sepal length (cm)": object})
    for row, value in ((4, "abc"), (60, "unknown"), (99, "12 cm")):
        frame.loc[row, "sepal length (cm)"] = value
    train, test = frame.iloc[:120], frame.iloc[120:].copy()
    test.loc[130, "sepal length (cm)"] = "?"
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)

    report = prepare_data(IRIS_SPEC, train_csv, test_csv, tmp_path / "run")

    said = (
        f"'{train_csv}': column 'sepal length (cm)' is numeric except 3 cells such as 'abc', 'unknown', "
        "'12 cm' (rows 5, 61, 100); they were read as missing values."
    )
    in_test = (
        f"'{test_csv}': column 'sepal length (cm)' is numeric except 1 cell such as '?' (row 11); "
        "it was read as missing values."
    )
    assert report.findings == [said, in_test] and said in report.notes and in_test in report.notes
    written = pd.read_csv(report.train_path)
    assert pd.api.types.is_float_dtype(written["sepal length (cm)"])
    assert int(written["sepal length (cm)"].isna().sum()) == 3  # the rows are kept
    assert report.n_test == 30 and report.n_train == 119  # one flower repeats in the test set (a leak)
    assert pd.api.types.is_float_dtype(pd.read_csv(report.test_path)["sepal length (cm)"])
    card = (tmp_path / "run" / "data_card.md").read_text(encoding="utf-8")
    assert "'sepal length (cm)' is numeric except 3 cells" in card


def test_a_column_of_numbers_and_much_text_stays_categorical_and_says_so(
    tmp_path: Path, iris: pd.DataFrame
) -> None:
    frame = iris.astype({"petal width (cm)": object})
    frame.loc[frame.index[::5], "petal width (cm)"] = "narrow"  # 30 of 150 cells: 20% text
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)

    report = prepare_data(IRIS_SPEC, path, None, tmp_path / "run")

    [said] = report.findings
    assert said.startswith(
        f"'{path}': column 'petal width (cm)' mixes 120 numbers with 30 cells of text such as 'narrow' "
        "(rows 1, 6, 11, 16, 21, ...); it is kept as a categorical column"
    )
    assert not pd.api.types.is_float_dtype(pd.read_csv(report.train_path)["petal width (cm)"])


@pytest.mark.parametrize(
    "cells",
    [
        [str(i) for i in range(50)],  # numbers already
        ["a", "b", "c"] * 20,  # text
        [str(i) for i in range(5)] + ["x"],  # too few numbers to say what the column is
        [str(i) for i in range(10)] + ["x"] * 11,  # more text than numbers
    ],
)
def test_columns_that_are_not_mixed_numbers(cells: list[str]) -> None:
    from trainer_agent.skills.data.mixed_numbers import mixed_numbers

    assert mixed_numbers(pd.Series(cells, dtype=object), "c") is None


def test_infinite_and_blank_cells() -> None:
    from trainer_agent.skills.data.mixed_numbers import mixed_numbers

    cells = [str(i) for i in range(40)] + ["inf", "  ", None, " 7 "]
    found = mixed_numbers(pd.Series(cells, dtype=object), "c")
    assert (
        found is not None and found.read_as_numbers and found.text_rows == [41] and found.examples == ["inf"]
    )
    assert found.values.iloc[43] == 7.0 and found.values.iloc[40:43].isna().all() and found.numbers == 41
