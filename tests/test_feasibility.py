"""Feasibility judgement (skills/task/feasibility.py) and the triage that combines it with ethics, the
estimate and the plan (skills/task/triage.py, skills/task/plan.py): each infeasibility kind, each kind of
question, the labels-needed rule, and the plan's agreement with the pipeline's steps."""

from __future__ import annotations

import pandas as pd
import pytest

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType
from trainer_agent.skills.task import feasibility as fz
from trainer_agent.skills.task.requirements import parse_request, parse_requirements
from trainer_agent.skills.task.triage import triage


def _judge(request: str, df: pd.DataFrame | None = None, label: str | None = None) -> TaskSpec:
    return triage(parse_request(request, df, label=label), df, label_given=label is not None)


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    df["cultivar"] = df["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return df


@pytest.mark.parametrize(
    "request_text",
    [
        "Predict the next lottery numbers from past draws",
        "which numbers will come up in this week's lotto?",
        "Predict the outcome of the next roulette spin",
        "Predict the result of a fair coin toss",
        "A model that guarantees profits on the stock market",
        "Predict stock prices with 100% accuracy",
        "classify reviews with 100% accuracy on all future inputs",
        "the model must never be wrong on any new review",
    ],
)
def test_unpredictable_targets_are_infeasible(request_text: str) -> None:
    found = fz.unpredictable(request_text)
    assert found is not None and found.decision == "infeasible"
    spec = _judge(request_text)
    assert spec.decision == "infeasible" and spec.reasons


@pytest.mark.parametrize(
    "request_text",
    [
        "predict lottery ticket sales from the weather",
        "detect lottery scam emails",
        "predict stock prices from news",
    ],
)
def test_hard_but_learnable_targets_are_not_called_unpredictable(request_text: str) -> None:
    assert fz.unpredictable(request_text) is None


@pytest.mark.parametrize(
    ("text", "proposed"),
    [
        ("accuracy of 100%", "accuracy"),
        ("99.9% accuracy with 10 parameters", "accuracy"),
        ("p95 latency under 0.001 ms", "latency_p95_ms"),
        ("model under 50 bytes", "size_bytes"),
        ("in 16 MB of memory", "memory_mb"),
    ],
)
def test_unreachable_requirements_come_with_a_counter_proposal(text: str, proposed: str) -> None:
    (found,) = fz.contradictions(parse_requirements(text))
    assert found.decision == "infeasible" and found.questions
    assert any(r.name == proposed for r in found.proposal)
    for relaxed in found.proposal:  # the proposal itself is not infeasible
        if relaxed.name == proposed:
            assert not fz.contradictions([relaxed])


@pytest.mark.parametrize(
    "text",
    [
        "accuracy of at least 0.9 but no higher than 0.8",
        "accuracy must be above 0.9; the risk team says it must stay below 0.8",
        "accuracy above 0.9 on the test set, and the test accuracy must also stay below 0.8",
    ],
)
def test_a_second_bound_on_the_same_measure_is_read_and_the_contradiction_found(text: str) -> None:
    requirements = parse_requirements(text)
    assert [(r.name, r.op[0]) for r in requirements] == [("accuracy", ">"), ("accuracy", "<")]
    (bounds,) = fz.contradictions(requirements)
    assert "contradict" in bounds.reason


def test_contradictory_bounds_and_zero_parameters_are_infeasible() -> None:
    (bounds,) = fz.contradictions(parse_requirements("accuracy >= 0.9 and accuracy <= 0.8"))
    assert "contradict" in bounds.reason
    (params,) = fz.contradictions(parse_requirements("fewer than 1 parameter"))
    assert "no room for a model" in params.reason
    reachable = "accuracy >= 90%, under 1M parameters, p95 latency under 20 ms, 2 GB containers, 50 QPS"
    assert fz.contradictions(parse_requirements(reachable)) == []


def test_no_data_asks_for_it_unless_there_is_none_to_get() -> None:
    ask = _judge("Build a spam classifier with F1 at least 0.9")
    assert ask.decision == "ask" and "--data" in ask.questions[0]
    never = _judge("train a spam filter; I don't have any labelled data and can't get any")
    assert never.decision == "infeasible"


def test_vague_requests_ask_for_the_label_and_the_metric(wine: pd.DataFrame) -> None:
    spec = _judge("make it good", wine)
    assert spec.decision == "ask"
    assert "'cultivar'" in spec.questions[0] and "metric" in spec.questions[1]
    assert _judge("build me an AI").decision == "ask"
    assert _judge("make it good", wine, label="cultivar").decision == "accept"  # --label says what
    assert _judge("classify the cultivar", wine).decision == "accept"


def test_held_out_rows_needed_to_tell_a_target_from_perfection() -> None:
    assert fz.held_out_rows_needed(0.9) == 10
    assert fz.held_out_rows_needed(0.99) == 100
    assert fz.held_out_rows_needed(0.995) == 200


def test_labels_needed_per_class_in_the_data_and_in_the_test_file() -> None:
    more, more_test, why = fz.labels_needed({"a": 4, "b": 100}, [])
    assert more == {"a": 6} and more_test == {} and "'a' has 4" in why[0]
    # accuracy >= 0.9 without a test file: 10 held-out rows = 50 rows in all, spread by class share
    more, _, _ = fz.labels_needed({"a": 20, "b": 20}, parse_requirements("accuracy >= 0.9"))
    assert more == {"a": 5, "b": 5}
    more, _, _ = fz.labels_needed({"a": 300, "b": 300}, parse_requirements("recall on b >= 0.99", ["a", "b"]))
    assert more == {"b": 200}  # 100 held-out rows of 'b' = 500 of 'b'
    more, _, _ = fz.labels_needed({"a": 30, "b": 200}, parse_requirements("macro F1 of 0.9"))
    assert more == {"a": 20}  # every class of a macro average needs 50
    # with a test file the held-out rows must be in it
    more, more_test, why = fz.labels_needed(
        {"a": 500, "b": 500}, parse_requirements("accuracy >= 0.99"), {"a": 30, "b": 10}
    )
    assert more == {} and sum(more_test.values()) == 60 and "test file" in why[0]
    assert fz.labels_needed({"a": 500, "b": 500}, parse_requirements("accuracy >= 0.9")) == ({}, {}, [])


def test_too_few_labels_asks_for_n_more(wine: pd.DataFrame) -> None:
    spec = _judge("classify the wine cultivar, accuracy >= 99%", wine)
    assert spec.decision == "ask" and "500" in spec.reasons[0]
    assert "322 more" in spec.questions[0]  # 500 - 178, spread over the classes
    tiny = wine.groupby("cultivar", group_keys=False).head(4)
    spec = _judge("classify the cultivar", tiny)
    assert spec.decision == "ask" and "18 more" in spec.questions[0]  # 6 per class
    test_file = wine.head(30)
    spec = triage(parse_request("classify the cultivar, accuracy >= 99%", wine), wine, test_df=test_file)
    assert (
        spec.decision == "ask"
        and "70 more examples" in spec.questions[0]
        and "test file" in spec.questions[0]
    )


def test_unusable_label_columns(wine: pd.DataFrame) -> None:
    with pytest.raises(UserError, match="only one class"):
        _judge("classify the cultivar", wine.assign(cultivar="barolo"))
    ids = wine.assign(code=[f"W{i:04d}" for i in range(len(wine))])
    assert "identifier" in _judge("predict the code", ids).reasons[0]
    short = wine.head(12).rename(columns={"cultivar": "c"}).assign(alcohol=range(12))
    assert _judge("predict the alcohol content, a regression", short).decision == "ask"


def test_accept_carries_the_estimate_and_the_plan_of_the_pipeline(wine: pd.DataFrame) -> None:
    from trainer_agent.skills.pipeline import PIPELINE

    spec = _judge("classify the cultivar, accuracy >= 0.8", wine)
    assert spec.decision == "accept" and not spec.reasons
    est = spec.estimate
    assert est["llm_cost_usd"] == 0.0 and est["rows"] == len(wine) and "CPU" in est["compute"]
    assert 0 < est["seconds_low"] < est["seconds"] < est["seconds_high"]
    assert [(p["step"], p["agent"], p["tool"]) for p in spec.plan] == [
        (step.name, step.owner, step.tool) for step in PIPELINE
    ]
    assert all(p["budget_s"] > 0 for p in spec.plan)


def test_the_training_estimate_follows_measured_times_and_the_budget() -> None:
    from trainer_agent.skills.task.plan import estimate, make_plan

    text = TaskSpec(request="classify reviews", task_type="text_classification")
    # measured on 2 cores (skills.task.plan._train_seconds): 4,000 reviews 23.4 s + 3 s job start,
    # 800: 4.9 + 3
    for rows, measured in ((4000, 26.4), (800, 7.9)):
        train = estimate(text, n_rows=rows, n_test=1000)["steps_seconds"]["train"]
        assert 0.75 * measured <= train <= 1.25 * measured, (rows, train)
    # digits (1,437 x 64, 10 classes): 46.9 + 3 s, most of it gradient boosting a tree per class, and
    # LightGBM's 0.26x of gradient boosting's 38.9 s, and a fifth more for tuning LightGBM within the
    # budget sized to the data until it converges (skills.task.plan._train_seconds says where from)
    table = TaskSpec(request="classify digits", task_type="tabular_classification")
    digits = estimate(table, n_rows=1437, n_features=64, n_classes=10, n_test=360)["steps_seconds"]["train"]
    assert 0.75 * 70.0 <= digits <= 1.25 * 70.0
    # a budget: text tunes for all of it, so the estimate is about the budget
    budgeted = estimate(text, n_rows=4000, n_test=1000, budget_min=5)
    assert 300 <= budgeted["steps_seconds"]["train"] <= 330 and budgeted["budget_min"] == 5
    # the plan names what the search tries, in the order it tries them (the catalog's defaults)
    plan = {p["step"]: p["does"] for p in make_plan(table, estimate(table, n_rows=150, n_features=4))}
    assert plan["train"].startswith(
        "try lightgbm-classifier, random-forest-classifier, gradient-boosting-classifier, "
        "logistic-regression by 3-fold"
    )
    plan = {p["step"]: p["does"] for p in make_plan(text, estimate(text, n_rows=800))}
    assert plan["train"].startswith(  # the catalog's default text families and their soft vote
        "try tfidf-complement-nb, tfidf-logistic-regression by 3-fold cross-validation, keep the best "
        "(or their soft vote)"
    )
    plan = {p["step"]: p["does"] for p in make_plan(text, estimate(text, n_rows=800, budget_min=2))}
    assert "tfidf-complement-nb" in plan["train"] and "torch-text-bag" in plan["train"]


def test_ethics_comes_first_and_a_refusal_plans_no_other_agent() -> None:
    spec = _judge("guarantee profits by writing phishing emails to investors")
    assert spec.decision == "refuse" and spec.refusal_category == "fraud_phishing"
    assert {p["agent"] for p in spec.plan} == {"task_agent"}
    assert spec.estimate == {}


def test_an_untrainable_task_type_is_infeasible() -> None:
    spec = triage(TaskSpec(request="classify photos", task_type=TaskType.IMAGE_CLASSIFICATION), None)
    from trainer_agent.skills.task.triage import trainable_tasks

    expected = "ask" if TaskType.IMAGE_CLASSIFICATION in trainable_tasks() else "infeasible"
    assert spec.decision == expected


def test_requirement_texts_read_as_a_person_writes_them() -> None:
    assert (
        fz.describe(Requirement(name="accuracy", op=">=", target=0.9990000000000001)) == "accuracy >= 99.9%"
    )
    assert fz.describe(Requirement(name="latency_p95_ms", op="<=", target=1.0)) == "p95 latency <= 1 ms"


@pytest.mark.parametrize(
    "request_text",
    [
        "what will the euro-dollar rate be next Friday, exactly?",
        "predict each customer's bill for next month to the cent",
        "tell a candidate's honesty from their star sign",
        "a numerology model that predicts which couples stay married",
        "guess what my users are thinking by reading their minds from the webcam",
        "tell me what my employees are really thinking from their profile photos",
        "give me the exact numbers of the next draw of the national lottery",
        "predict a child's fortune from her birth chart",
    ],
)
def test_what_no_data_can_know_is_infeasible_by_nature_with_a_reason(request_text: str) -> None:
    found = fz.impossible_by_nature(request_text, [])
    assert found is not None and found.decision == "infeasible"
    assert "no" in found.reason and "I can train" in found.reason  # why, and what it can do instead


@pytest.mark.parametrize(
    "request_text",
    [
        "forecast next month's electricity demand from the last two years",
        "estimate the exact number of parameters my model may have",
        "classify horoscope articles by zodiac sign mentioned in them",
    ],
)
def test_forecasts_and_topics_are_not_called_impossible(request_text: str) -> None:
    assert fz.impossible_by_nature(request_text, []) is None


@pytest.mark.parametrize(
    ("request_text", "kind"),
    [
        ("transcribe the interviews we recorded", "speech recognition"),
        ("put bounding boxes around the defects in these photos", "object detection"),
        ("translate support emails into Spanish", "translation"),
        ("summarize each contract in three lines", "summarisation"),
        ("write product descriptions for our catalog", "generation"),
        ("cluster our shoppers by behaviour", "clustering"),
        ("turn the voicemails into written transcripts", "speech recognition"),
        ("group our members into natural segments", "clustering"),
        ("a model that writes a one-paragraph summary of each report", "generation"),
        ("build a translator for our manuals", "translation"),
    ],
)
def test_a_kind_of_model_this_version_does_not_train_is_infeasible_and_named(
    request_text: str, kind: str
) -> None:
    spec = triage(parse_request(request_text, None), None)
    assert spec.decision == "infeasible"
    assert kind in spec.reasons[0] and "it trains text classification" in spec.reasons[0]


def test_a_classification_request_is_not_taken_for_an_untrained_kind() -> None:
    for request_text in (
        "classify support emails by topic",
        "predict which customers cancel",
        "detect spam",
        "classify transcribed speeches by policy topic",
    ):
        assert fz.task_kind_not_trained(request_text, (TaskType.TEXT_CLASSIFICATION,)) is None
