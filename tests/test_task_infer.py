"""Task type and columns from a request and its data (no training)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import TaskType
from trainer_agent.skills.task.requirements import parse_request
from trainer_agent.skills.task.task_infer import infer_task, is_id_like, task_from_words

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods" / "train.csv"


@pytest.fixture(scope="module")
def fine_foods() -> pd.DataFrame:
    return pd.read_csv(FINE_FOODS)


def _sk(name: str) -> pd.DataFrame:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def test_fine_foods_is_text_classification_on_review_by_score(fine_foods):
    task, label, text, features = infer_task("I need a sentiment classifier for the reviews", fine_foods)
    assert (task, label, text, features) == (TaskType.TEXT_CLASSIFICATION, "score", "review", ["review"])
    # the product codes are short, all distinct and without spaces: an id, never the text
    assert is_id_like(fine_foods["product"]) and not is_id_like(fine_foods["review"])


def test_image_words_do_not_override_a_text_column(fine_foods):
    task, label, text, _ = infer_task("flag reviews that complain the photos looked better", fine_foods)
    assert (task, label, text) == (TaskType.TEXT_CLASSIFICATION, "score", "review")


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_sklearn_classification_sets_are_tabular_classification(name):
    df = _sk(name)
    task, label, text, features = infer_task("build me a model", df)
    assert (task, label, text) == (TaskType.TABULAR_CLASSIFICATION, "target", None)
    assert features == [c for c in df.columns if c != "target"]


def test_diabetes_is_regression_from_its_many_numeric_values():
    df = _sk("diabetes")
    task, label, text, features = infer_task("build me a model", df)
    assert (task, label, text, len(features)) == (TaskType.TABULAR_REGRESSION, "target", None, 10)


def test_regression_words_on_a_numeric_label_with_few_values():
    df = pd.DataFrame({"rooms": [1, 2, 3, 4] * 10, "price": [100, 200, 300, 400] * 10})
    assert infer_task("classify this", df)[0] == TaskType.TABULAR_CLASSIFICATION
    assert infer_task("predict the price of a house", df)[:2] == (TaskType.TABULAR_REGRESSION, "price")
    assert infer_task("how much will it cost?", df)[0] == TaskType.TABULAR_REGRESSION


def test_classification_words_beat_the_many_values_heuristic():
    df = _sk("diabetes")
    assert infer_task("classify patients by target", df)[0] == TaskType.TABULAR_CLASSIFICATION


def test_label_named_in_the_request(fine_foods):
    wine = _sk("wine").rename(columns={"target": "cultivar"})
    wine["cultivar"] = wine["cultivar"].map(lambda i: f"class_{i}")
    task, label, _, features = infer_task("Predict the cultivar of a wine from its chemistry", wine)
    assert (task, label, len(features)) == (TaskType.TABULAR_CLASSIFICATION, "cultivar", 13)
    df = pd.DataFrame({"sentiment": ["a", "b"] * 20, "topic": ["x", "y", "z", "w"] * 10, "n": range(40)})
    assert infer_task("classify the posts by topic", df)[1] == "topic"
    assert infer_task("the label is topic", df)[1] == "topic"
    assert infer_task("use topic as the target", df)[1] == "topic"
    assert infer_task("nothing said", df)[1] == "sentiment"  # conventional name


def test_last_column_when_nothing_else_says(fine_foods):
    df = pd.DataFrame({"a": [1.0, 2.5, 3.1] * 10, "b": [0, 1, 1] * 10, "verdict": ["x", "y", "z"] * 10})
    assert infer_task("", df)[1] == "verdict"


def test_id_like_columns_are_not_features():
    df = pd.DataFrame(
        {
            "row_id": list(range(100, 140)),
            "seq": list(range(40))[::-1],
            "code": [f"SKU{i:05d}" for i in range(40)],
            "color": ["red", "blue"] * 20,
            "width": [float(i % 7) for i in range(40)],
            "label": ["a", "b", "c", "d"] * 10,
        }
    )
    task, label, _, features = infer_task("", df)
    assert (task, label) == (TaskType.TABULAR_CLASSIFICATION, "label")
    assert features == ["color", "width"]


def test_longest_text_column_is_chosen_and_a_named_one_wins():
    short = [f"a short title, number {i} of them here" for i in range(30)]
    long_ = [
        f"a much longer body of text for row {i}, with many more words than the title has" for i in range(30)
    ]
    df = pd.DataFrame({"title": short, "body": long_, "label": ["x", "y"] * 15})
    assert infer_task("", df)[2:] == ("body", ["body"])
    assert infer_task("classify from the title column", df)[2:] == ("title", ["title"])


def test_overrides_must_exist(fine_foods):
    task, label, text, features = infer_task("", fine_foods, label="score", text_col="review")
    assert (task, label, text, features) == (TaskType.TEXT_CLASSIFICATION, "score", "review", ["review"])
    with pytest.raises(UserError) as err:
        infer_task("", fine_foods, label="stars")
    assert str(err.value) == "column 'stars' is not in the data; columns are: product, review, score"
    with pytest.raises(UserError, match="column 'body' is not in the data"):
        infer_task("", fine_foods, text_col="body")


def test_empty_frames_are_user_errors():
    with pytest.raises(UserError, match="no columns"):
        infer_task("", pd.DataFrame())
    with pytest.raises(UserError, match="no rows"):
        infer_task("", pd.DataFrame({"a": [], "b": []}))


def test_image_words_and_image_path_columns():
    df = pd.DataFrame({"path": [f"img/{i}.jpg" for i in range(20)], "label": ["cat", "dog"] * 10})
    assert infer_task("", df) == (TaskType.IMAGE_CLASSIFICATION, "label", None, ["path"])
    assert task_from_words("sort these photos of cats and dogs") == TaskType.IMAGE_CLASSIFICATION


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("I need a sentiment classifier for product reviews", TaskType.TEXT_CLASSIFICATION),
        ("predict the price of a house", TaskType.TABULAR_REGRESSION),
        ("label each picture", TaskType.IMAGE_CLASSIFICATION),
        ("which customers will churn", TaskType.TABULAR_CLASSIFICATION),
    ],
)
def test_task_from_words(text, task):
    assert task_from_words(text) == task


def test_parse_request_reads_the_demo_request_against_fine_foods(fine_foods):
    text = (Path(__file__).resolve().parents[1] / "configs" / "demo" / "request.txt").read_text()
    spec = parse_request(text, fine_foods)
    assert (spec.task_type, spec.label_column, spec.text_column) == (
        TaskType.TEXT_CLASSIFICATION,
        "score",
        "review",
    )
    assert spec.feature_columns == ["review"] and spec.decision == "accept"
    assert [r.name for r in spec.requirements] == [
        "accuracy",
        "f1",
        "params",
        "latency_p95_ms",
        "qps",
        "memory_mb",
    ]


def test_parse_request_checks_classes_against_the_label_column(fine_foods):
    spec = parse_request("recall on other above 0.6", fine_foods)
    assert spec.requirements[0].key == "recall[other]"
    # a class that is not a label is asked about (naming the labels), never dropped or an error
    unclear = parse_request("recall on awful above 0.6", fine_foods)
    assert unclear.requirements == []
    assert [u.text for u in unclear.unclear] == ["recall on awful"]
    assert "'great' or 'other'" in unclear.unclear[0].question
    iris = _sk("iris")
    assert parse_request("recall for class 2 at least 0.9", iris).requirements[0].key == "recall[2]"


def test_parse_request_without_data():
    spec = parse_request("Classify reviews as great or other, accuracy at least 70%")
    assert spec.task_type == TaskType.TEXT_CLASSIFICATION and spec.decision == "accept"
    assert (spec.label_column, spec.text_column, spec.feature_columns) == (None, None, [])
    assert [(r.name, r.op, r.target) for r in spec.requirements] == [("accuracy", ">=", pytest.approx(0.7))]
    # without data a per-class target is taken as written
    assert parse_request("recall on whatever above 0.5").requirements[0].label == "whatever"
