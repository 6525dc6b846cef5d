"""The request parser: metric targets and constraints out of free English text."""

from __future__ import annotations

import random

import pytest

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import CONSTRAINT_NAMES, METRIC_NAMES
from trainer_agent.skills.task.requirements import parse_requirements

# (text, [(name, op, target, label), ...])
CASES: list[tuple[str, list[tuple[str, str, float, str | None]]]] = [
    # accuracy
    ("accuracy >= 90%", [("accuracy", ">=", 0.9, None)]),
    ("at least 90% accuracy", [("accuracy", ">=", 0.9, None)]),
    ("accuracy of 0.9 or better", [("accuracy", ">=", 0.9, None)]),
    ("90 percent accurate", [("accuracy", ">=", 0.9, None)]),
    ("accuracy above 85%", [("accuracy", ">", 0.85, None)]),
    ("acc ≥ 0.92", [("accuracy", ">=", 0.92, None)]),
    ("reach 90% accuracy", [("accuracy", ">=", 0.9, None)]),
    ("accuracy 90", [("accuracy", ">=", 0.9, None)]),
    ("90% accuracy", [("accuracy", ">=", 0.9, None)]),
    ("90% accuracy or better", [("accuracy", ">=", 0.9, None)]),
    ("The model must reach an accuracy of at least 92% on the test set.", [("accuracy", ">=", 0.92, None)]),
    ("accuracy should not be below 0.9", [("accuracy", ">=", 0.9, None)]),
    ("Accuracy ≥ 90 %", [("accuracy", ">=", 0.9, None)]),
    ("accuracy: 0.95", [("accuracy", ">=", 0.95, None)]),
    ("a minimum of 80% accuracy", [("accuracy", ">=", 0.8, None)]),
    ("top-1 accuracy 75%", [("accuracy", ">=", 0.75, None)]),
    ("accuracy beats 0.8", [("accuracy", ">", 0.8, None)]),
    ("accuracy greater than or equal to 0.9", [("accuracy", ">=", 0.9, None)]),
    ("90%+ accuracy", [("accuracy", ">=", 0.9, None)]),
    ("at least 0.85 AUC", [("roc_auc", ">=", 0.85, None)]),
    ("error rate under 5%", [("accuracy", ">", 0.95, None)]),
    ("error rate of at most 3%", [("accuracy", ">=", 0.97, None)]),
    # F1
    ("F1 at least 0.8", [("f1", ">=", 0.8, None)]),
    ("macro-F1 >= 80%", [("f1", ">=", 0.8, None)]),
    ("f1-score above 0.75", [("f1", ">", 0.75, None)]),
    ("F-score ≥ .7", [("f1", ">=", 0.7, None)]),
    # precision / recall, per class or not
    ("recall on other above 0.6", [("recall", ">", 0.6, "other")]),
    ("recall for class 'other' at least 60%", [("recall", ">=", 0.6, "other")]),
    ("precision of great >= 0.9", [("precision", ">=", 0.9, "great")]),
    ("recall above 0.7", [("recall", ">", 0.7, None)]),
    ("recall of at least 70%", [("recall", ">=", 0.7, None)]),
    ("recall on the test set above 0.6", [("recall", ">", 0.6, None)]),
    ("'other' recall >= 0.5", [("recall", ">=", 0.5, "other")]),
    ("precision over 80 percent for class great", [("precision", ">", 0.8, "great")]),
    ("sensitivity of 0.85", [("recall", ">=", 0.85, None)]),
    ("classify emails as spam, 95% precision on spam", [("precision", ">=", 0.95, "spam")]),
    # ROC AUC
    ("ROC AUC at least 0.9", [("roc_auc", ">=", 0.9, None)]),
    ("AUC >= .85", [("roc_auc", ">=", 0.85, None)]),
    ("AUC-ROC > 0.8", [("roc_auc", ">", 0.8, None)]),
    # regression metrics
    ("MAE under 5", [("mae", "<", 5.0, None)]),
    ("mean absolute error below 3.2", [("mae", "<", 3.2, None)]),
    ("RMSE < 10", [("rmse", "<", 10.0, None)]),
    ("MSE below 25", [("rmse", "<", 5.0, None)]),
    ("MAE of 3 or better", [("mae", "<=", 3.0, None)]),
    ("R2 at least 0.8", [("r2", ">=", 0.8, None)]),
    ("R² >= 0.5", [("r2", ">=", 0.5, None)]),
    ("R-squared of 0.7 or higher", [("r2", ">=", 0.7, None)]),
    ("R² >= -0.1", [("r2", ">=", -0.1, None)]),
    # parameters
    ("under 10M parameters", [("params", "<", 10e6, None)]),
    ("fewer than 1,000,000 params", [("params", "<", 1e6, None)]),
    ("at most 500k parameters", [("params", "<=", 500e3, None)]),
    ("< 2.5M parameters", [("params", "<", 2.5e6, None)]),
    ("no more than 10 million parameters", [("params", "<=", 10e6, None)]),
    ("parameter count below 5 million", [("params", "<", 5e6, None)]),
    ("a 10M-parameter model", [("params", "<=", 10e6, None)]),
    ("params less than or equal to 1M", [("params", "<=", 1e6, None)]),
    ("1B parameters at most", [("params", "<=", 1e9, None)]),
    # model size
    ("model under 5 MB", [("size_bytes", "<", 5e6, None)]),
    ("model size at most 200 KB", [("size_bytes", "<=", 200e3, None)]),
    ("smaller than 1.5 MiB", [("size_bytes", "<", 1.5 * 2**20, None)]),
    ("the model weights under 5 MB", [("size_bytes", "<", 5e6, None)]),
    ("model that fits in 10 MB", [("size_bytes", "<=", 10e6, None)]),
    ("a 512 KiB model", [("size_bytes", "<=", 512 * 2**10, None)]),
    ("model no larger than 1 GB", [("size_bytes", "<=", 1e9, None)]),
    # latency
    ("p95 latency under 20 ms", [("latency_p95_ms", "<", 20.0, None)]),
    ("latency below 50ms", [("latency_p95_ms", "<", 50.0, None)]),
    ("p99 under 0.1 s", [("latency_p99_ms", "<", 100.0, None)]),
    ("latency under 500 ns", [("latency_p95_ms", "<", 0.0005, None)]),
    ("answering in under 1 microsecond", [("latency_p95_ms", "<", 0.001, None)]),
    ("latency within 50 ms", [("latency_p95_ms", "<=", 50.0, None)]),
    ("99th percentile latency under 40ms", [("latency_p99_ms", "<", 40.0, None)]),
    ("median latency 5 ms", [("latency_p50_ms", "<=", 5.0, None)]),
    ("respond in under 20 ms", [("latency_p95_ms", "<", 20.0, None)]),
    ("latency of 20 ms at p99", [("latency_p99_ms", "<=", 20.0, None)]),
    ("Please keep the p99 latency at or below 30 ms", [("latency_p99_ms", "<=", 30.0, None)]),
    ("Latency: < 20ms (p95)", [("latency_p95_ms", "<", 20.0, None)]),
    ("inference time below 10 ms", [("latency_p95_ms", "<", 10.0, None)]),
    ("latency under 2 seconds", [("latency_p95_ms", "<", 2000.0, None)]),
    ("p95 latency under 20", [("latency_p95_ms", "<", 20.0, None)]),
    # throughput
    ("100 QPS", [("qps", ">=", 100.0, None)]),
    ("handle 250 requests per second", [("qps", ">=", 250.0, None)]),
    ("at least 50 req/s", [("qps", ">=", 50.0, None)]),
    ("throughput of at least 100 requests per second", [("qps", ">=", 100.0, None)]),
    ("serve 1k QPS", [("qps", ">=", 1000.0, None)]),
    ("up to 300 queries per second", [("qps", ">=", 300.0, None)]),
    ("200/s", [("qps", ">=", 200.0, None)]),
    ("1.5k requests/second", [("qps", ">=", 1500.0, None)]),
    # memory (MiB; GB and GiB both 1024)
    ("2 GB containers", [("memory_mb", "<=", 2048.0, None)]),
    ("in 512 MB of memory", [("memory_mb", "<=", 512.0, None)]),
    ("containers with 4GiB RAM", [("memory_mb", "<=", 4096.0, None)]),
    ("memory limit of 1 GB", [("memory_mb", "<=", 1024.0, None)]),
    ("no more than 2GB RAM per container", [("memory_mb", "<=", 2048.0, None)]),
    ("pods with 256 MiB", [("memory_mb", "<=", 256.0, None)]),
    ("run on a 4GB RAM machine", [("memory_mb", "<=", 4096.0, None)]),
    ("a model with 2 GB of RAM", [("memory_mb", "<=", 2048.0, None)]),
    ("for this data 90% accuracy", [("accuracy", ">=", 0.9, None)]),
    # several in one
    ("precision and recall at least 0.7", [("precision", ">=", 0.7, None), ("recall", ">=", 0.7, None)]),
    (
        "precision, recall and F1 at least 0.75",
        [("precision", ">=", 0.75, None), ("recall", ">=", 0.75, None), ("f1", ">=", 0.75, None)],
    ),
    ("90% accuracy and F1 above 0.8", [("accuracy", ">=", 0.9, None), ("f1", ">", 0.8, None)]),
    ("F1 of 0.8 accuracy of 0.9", [("f1", ">=", 0.8, None), ("accuracy", ">=", 0.9, None)]),
    (
        "accuracy at least 90% but not more than 10M parameters",
        [("accuracy", ">=", 0.9, None), ("params", "<=", 10e6, None)],
    ),
    (
        "Accuracy ≥ 90 %, model ≤ 20 MB, p99 latency ≤ 0.05 s",
        [
            ("accuracy", ">=", 0.9, None),
            ("size_bytes", "<=", 20e6, None),
            ("latency_p99_ms", "<=", 50.0, None),
        ],
    ),
    (
        "mean absolute error of no more than 4.5 and R^2 above 0.6",
        [("mae", "<=", 4.5, None), ("r2", ">", 0.6, None)],
    ),
    (
        "I want a model under 100MB that handles 50 requests/sec with accuracy better than 85%",
        [("size_bytes", "<", 100e6, None), ("qps", ">=", 50.0, None), ("accuracy", ">", 0.85, None)],
    ),
    (
        "keep the model below 50MB and the latency under 100 milliseconds",
        [("size_bytes", "<", 50e6, None), ("latency_p95_ms", "<", 100.0, None)],
    ),
    (
        "It should serve 1k QPS on machines with 8 GB of RAM",
        [("qps", ">=", 1000.0, None), ("memory_mb", "<=", 8192.0, None)],
    ),
    (
        "accuracy: 0.95; latency: 30ms; qps: 200",
        [("accuracy", ">=", 0.95, None), ("latency_p95_ms", "<=", 30.0, None), ("qps", ">=", 200.0, None)],
    ),
]


def _tuples(reqs):
    return [(r.name, r.op, r.target, r.label) for r in reqs]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:50] for c in CASES])
def test_phrasings(text, expected):
    got = parse_requirements(text)
    assert [(n, op, lab) for n, op, _, lab in _tuples(got)] == [(n, op, lab) for n, op, _, lab in expected]
    assert [r.target for r in got] == [pytest.approx(t) for _, _, t, _ in expected]
    for r in got:
        assert r.name in METRIC_NAMES + CONSTRAINT_NAMES
        assert r.text and r.text in text


def test_at_least_fifty_phrasings():
    assert len(CASES) >= 50


def test_combined_request_gives_five_requirements_with_their_phrases():
    text = (
        "I need a sentiment classifier for the review column, accuracy >= 90%, under 10M parameters, "
        "p95 latency under 20 ms, 100 QPS in 2 GB containers"
    )
    got = parse_requirements(text)
    assert _tuples(got) == [
        ("accuracy", ">=", pytest.approx(0.9), None),
        ("params", "<", 10_000_000, None),
        ("latency_p95_ms", "<", 20, None),
        ("qps", ">=", 100, None),
        ("memory_mb", "<=", 2048, None),
    ]
    assert [r.text for r in got] == [
        "accuracy >= 90%",
        "under 10M parameters",
        "p95 latency under 20 ms",
        "100 QPS",
        "2 GB containers",
    ]
    assert [r.kind for r in got] == ["metric", "constraint", "constraint", "constraint", "constraint"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I need a model that tells good reviews from bad ones.",
        "I have 2 GB of data and 3 files",
        "less than 2 GB of training data",
        "version 2.0 of the model",
        "Python 3.11, 3 epochs, 4 GPUs",
        "The data has 10 columns and 5000 rows",
        "it costs $100 per month",
        "we label 90% of the reviews by hand",
        "accuracy matters more than anything",
        "predict the score from 1 to 5",
        "train for 3 epochs on 2 GPUs with batch size 32",
        "the precision instrument dataset has 500 rows",
        "top-5 accuracy of 0.9",
        "MAE of -3",
        "I have 20,000 reviews",
        "a dataset size of 2 GB",
        "hmm 3.5.",
    ],
)
def test_no_false_positives(text):
    assert parse_requirements(text) == []


def test_sizes_go_where_their_words_say():
    got = parse_requirements("I have 2 GB of data; the model must be under 50 MB and run in 1 GB containers")
    assert _tuples(got) == [("size_bytes", "<", 50e6, None), ("memory_mb", "<=", 1024, None)]


def test_labels_are_validated_and_canonicalised():
    got = parse_requirements(
        "recall on OTHER above 0.6, precision of 'great' >= 0.9", labels=["great", "other"]
    )
    assert [(r.key, r.op) for r in got] == [("recall[other]", ">"), ("precision[great]", ">=")]
    with pytest.raises(UserError) as err:
        parse_requirements("recall on bad above 0.6", labels=["great", "other"])
    assert "'bad'" in str(err.value) and "great, other" in str(err.value)
    with pytest.raises(UserError, match="'terrible'"):
        parse_requirements("recall for class 'terrible' at least 60%", labels=["great", "other"])


def test_words_that_are_not_classes_do_not_raise():
    labels = ["great", "other"]
    got = parse_requirements("recall on the test set above 0.6, precision of at least 0.8", labels=labels)
    assert _tuples(got) == [("recall", ">", 0.6, None), ("precision", ">=", 0.8, None)]


def test_multi_word_and_numeric_labels():
    got = parse_requirements("recall on very good above 0.5", labels=["very good", "bad"])
    assert got[0].label == "very good"
    got = parse_requirements("recall for class 1 at least 0.6", labels=["0", "1", "2"])
    assert (got[0].label, got[0].target) == ("1", pytest.approx(0.6))


def test_each_class_expands_to_every_label():
    got = parse_requirements("recall for each class above 0.6", labels=["great", "other"])
    assert [(r.key, r.op, r.target) for r in got] == [
        ("recall[great]", ">", 0.6),
        ("recall[other]", ">", 0.6),
    ]
    assert [r.label for r in parse_requirements("per-class recall >= 0.5")] == [None]


def test_duplicates_are_dropped_and_order_kept():
    got = parse_requirements("100 QPS. accuracy >= 0.9. Again: accuracy of at least 90%, and 100 QPS")
    assert [r.name for r in got] == ["qps", "accuracy"]


def test_percent_targets_beyond_one_hundred_are_ignored():
    assert parse_requirements("accuracy 250") == []


VOCABULARY = (
    "accuracy recall on of for at least most under over 90% 0.9 10M params MB GB ms p95 p99 QPS "
    "containers model size latency 'x' class each , . and or ≥ ≤ < > = 1,000 .5 2.5k req/s R² F1 "
    "error rate version data the a"
)


def test_random_text_never_raises():
    words = VOCABULARY.split()
    rng = random.Random(0)
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
        for r in parse_requirements(text):
            assert r.name in METRIC_NAMES + CONSTRAINT_NAMES
            assert r.op in (">=", ">", "<=", "<")
