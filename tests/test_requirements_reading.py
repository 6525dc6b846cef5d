"""Requirements written in words, in other languages, or naming a class in the person's words
(skills/task/reading.py, skills/task/class_names.py, read_requirements in skills/task/requirements.py)."""

from __future__ import annotations

import pytest

from trainer_agent.skills.task.class_names import read_class
from trainer_agent.skills.task.number_words import lexicon
from trainer_agent.skills.task.reading import chinese_value, english_view, normalise, number_value
from trainer_agent.skills.task.requirements import parse_request, read_requirements
from trainer_agent.skills.task.triage import triage


def _keys(text: str, labels: list[str] | None = None, column: str | None = None) -> list[tuple]:
    return [
        (r.key, r.op, pytest.approx(r.target)) for r in read_requirements(text, labels, column).requirements
    ]


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("ninety-nine", 99),
        ("twenty one", 21),
        ("a half", 0.5),
        ("three quarters", 0.75),
        ("zero point nine five", 0.95),
        ("ninety-nine and a half", 99.5),
        ("five hundred thousand", 500_000),
        ("a hundred", 100),
        ("point", None),
    ],
)
def test_number_words(words: str, value: float | None) -> None:
    assert number_value(words) == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize(
    ("lang", "words", "value"),
    [("fr", "quatre-vingt-dix-neuf", 99), ("fr", "soixante-quinze", 75), ("fr", "vingt et un", 21),
     ("fr", "quatre-vingts", 80), ("fr", "septante", 70), ("de", "einundzwanzig", 21),
     ("de", "neunundneunzig", 99), ("es", "veinticinco", 25), ("es", "noventa y nueve", 99),
     ("it", "ventuno", 21), ("it", "novantotto", 98), ("it", "ventitré", 23), ("pt", "noventa e cinco", 95)],
)  # fmt: skip
def test_number_words_in_other_languages(lang: str, words: str, value: int) -> None:
    assert lexicon(lang)[words] == value
    assert "un" not in lexicon("fr") and "uno" not in lexicon("es")  # an article, not a quantity


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("九十九", 99), ("十五", 15), ("两百", 200), ("一百零五", 105), ("一万五千", 15_000), ("二〇二六", 2026),
     ("零点九五", 0.95), ("一百万", 1_000_000)],
)  # fmt: skip
def test_chinese_numerals(numeral: str, value: float) -> None:
    assert chinese_value(numeral) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Accuracy must exceed ninety-nine percent", [("accuracy", ">", 0.99)]),
        ("recall of at least three quarters", [("recall", ">=", 0.75)]),
        ("F1 no lower than zero point eight", [("f1", ">=", 0.8)]),
        ("under fifty ms p95 latency and fewer than two million parameters",
         [("latency_p95_ms", "<", 50), ("params", "<", 2e6)]),
        ("no more than 10 million parameters", [("params", "<=", 1e7)]),
    ],
)  # fmt: skip
def test_numbers_in_words_are_read(text: str, expected: list[tuple]) -> None:
    assert _keys(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Exactitude d'au moins 99 %", [("accuracy", ">=", 0.99)]),
        ("Le rappel doit être supérieur à 0,8 et la latence inférieure à 30 millisecondes",
         [("recall", ">", 0.8), ("latency_p95_ms", "<", 30)]),
        ("Genauigkeit von mindestens 0,9 und Latenz unter 20 Millisekunden",
         [("accuracy", ">=", 0.9), ("latency_p95_ms", "<", 20)]),
        ("precisión de al menos 85 por ciento", [("precision", ">=", 0.85)]),
        ("accuratezza almeno del 90 per cento, memoria al massimo 2 GB",
         [("accuracy", ">=", 0.9), ("memory_mb", "<=", 2048)]),
        ("acurácia de pelo menos 92% e menos de 1 milhões de parâmetros",
         [("accuracy", ">=", 0.92), ("params", "<", 1e6)]),
        ("准确率至少达到95%", [("accuracy", ">=", 0.95)]),
        ("召回率不低于0.8，延迟低于20毫秒", [("recall", ">=", 0.8), ("latency_p95_ms", "<", 20)]),
        # Chinese numerals: 百分之 (percent), 成 (tenths), 点 (decimal point), 百 and 万
        ("准确率达到百分之九十九以上", [("accuracy", ">=", 0.99)]),
        ("准确率至少百分之95", [("accuracy", ">=", 0.95)]),
        ("精度不低于九成，参数少于一百万", [("accuracy", ">=", 0.9), ("params", "<", 1e6)]),
        ("准确率至少零点九五，延迟低于两百毫秒", [("accuracy", ">=", 0.95), ("latency_p95_ms", "<", 200)]),
        ("训练一个模型", []),
        # numbers in words in the other languages (skills/task/number_words.py)
        ("Exactitude d'au moins quatre-vingt-dix pour cent", [("accuracy", ">=", 0.9)]),
        ("précision supérieure à quatre-vingt-quinze pour cent", [("precision", ">", 0.95)]),
        ("Genauigkeit mindestens fünfundneunzig Prozent, Latenz unter fünfzig Millisekunden",
         [("accuracy", ">=", 0.95), ("latency_p95_ms", "<", 50)]),
        ("precisión de al menos noventa y cinco por ciento", [("precision", ">=", 0.95)]),
        ("accuratezza almeno novantotto per cento", [("accuracy", ">=", 0.98)]),
        ("acurácia de pelo menos noventa e dois por cento", [("accuracy", ">=", 0.92)]),
        ("un modèle avec une exactitude d'au moins 90 %", [("accuracy", ">=", 0.9)]),
    ],
)  # fmt: skip
def test_other_languages_are_read(text: str, expected: list[tuple]) -> None:
    assert _keys(text) == expected


def test_the_phrase_quotes_the_persons_own_words() -> None:
    (req,) = read_requirements("Exactitude d'au moins 99 %").requirements
    assert req.text == "Exactitude d'au moins 99 %"
    assert normalise("predict y as well as possible").text == "predict y as well as possible"


@pytest.mark.parametrize(
    "text",
    [
        "Modellgüte ≥ 95%",
        "Zuverlässigkeit von 0,9 oder mehr",
        "la fiabilité doit dépasser 0.9 sur 95 % des cas",
        "成功率九成以上",
    ],
)
def test_what_looks_like_a_requirement_but_is_not_read_is_unclear(text: str) -> None:
    reading = read_requirements(text)
    unread = [u.text for u in reading.unclear]
    assert unread and all(u in text for u in unread)


def test_shares_of_the_data_are_not_requirements() -> None:
    assert read_requirements("hold out 20% of the data and reach accuracy 0.9").unclear == []


@pytest.mark.parametrize(
    ("phrase", "labels", "column", "label"),
    [
        ("defaulters", ["no", "yes"], "default", "yes"),
        ("non-defaulters", ["no", "yes"], "default", "no"),
        ("cancelling subscribers", ["0", "1"], "churn", "1"),
        ("churners", ["false", "true"], "cancelled", "true"),
        ("bad loans", ["bad", "good"], "risk", "bad"),
        ("poor loans", ["bad", "good"], "risk", "bad"),
        ("GOOD", ["bad", "good"], "risk", "good"),
    ],
)
def test_classes_named_in_the_persons_words(phrase: str, labels: list[str], column: str, label: str) -> None:
    assert read_class(phrase, labels, column).label == label


def test_a_class_with_no_clear_reading_names_the_candidates() -> None:
    reading = read_class("purple ones", ["no", "yes"], "default")
    assert reading.label is None and reading.candidates == ["no", "yes"]
    assert read_class("defaulters", ["barolo", "barbera", "grignolino"], "cultivar").label is None


def test_a_class_phrase_is_read_and_said() -> None:
    reading = read_requirements("recall on cancelling subscribers above 0.6", ["no", "yes"], "churn")
    assert [(r.key, r.op, r.target) for r in reading.requirements] == [("recall[yes]", ">", 0.6)]
    (said,) = reading.readings
    assert said.startswith("recall on 'cancelling subscribers' read as class 'yes' of column 'churn'")
    unclear = read_requirements("precision on purple ones at least 0.7", ["no", "yes"], "default")
    assert unclear.requirements == [] and "'no' or 'yes'" in unclear.unclear[0].question


def test_a_request_in_another_language_is_read_into_english_for_the_other_checks() -> None:
    german = "Trainiere ein Modell, das anhand der Passfotos erkennt, welche Bewerber Migrationshintergrund"
    view = english_view(german)
    assert view is not None and "passport photos" in view and "applicants" in view and "recognise" in view
    assert english_view("Train a model that flags spam, accuracy at least 0.9") is None
    spec = triage(parse_request(german), None)
    assert spec.decision == "refuse" and spec.refusal_category == "biometric_inference"
    assert any(r.startswith("I read the request in English as:") for r in spec.reasons)
    lottery = triage(parse_request("prédire le résultat exact du prochain tirage du loto"), None)
    assert lottery.decision == "infeasible"
