"""Auto-annotation (teacher model; an LLM through a fake `complete`) and augmentation (train only)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from trainer_agent.skills.data.annotate import (
    CONFIDENCE,
    MARK,
    NEEDS_REVIEW,
    annotate_with_llm,
    annotate_with_teacher,
    parse_answers,
)
from trainer_agent.skills.data.augment import augment_images, augment_sentence, augment_text, synonyms
from trainer_agent.skills.errors import UserError

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return pd.read_csv(FINE_FOODS / "train.csv").sample(n=900, random_state=0).reset_index(drop=True)


def test_teacher_annotates_a_pool_of_reviews(reviews: pd.DataFrame) -> None:
    labelled, pool = reviews.iloc[:600], reviews.iloc[600:]
    truth = pool["score"].to_numpy()
    result = annotate_with_teacher(  # the teacher's answers alone (the trial: tests/test_pseudo_labels.py)
        labelled, pool.drop(columns="score"), "score", text="review", min_confidence=0.85, check=False
    )
    annotated, aside = result.annotated, result.set_aside
    assert len(annotated) + len(aside) == len(pool)
    assert 0 < len(annotated) < len(pool)
    assert (annotated[MARK] == "teacher:logistic_regression").all() and (aside[MARK] == NEEDS_REVIEW).all()
    assert (annotated[CONFIDENCE] >= 0.85).all()
    assert len(aside) >= (pool.reset_index(drop=True).index.size - len(annotated))
    assert (result.combined()[CONFIDENCE] < 0.85).sum() <= len(aside)  # every unsure row is set aside
    assert aside["score"].isna().all()
    correct = (annotated["score"].to_numpy() == truth[annotated.index - 600]).mean()
    assert correct >= 0.8  # the confident answers are mostly right on real reviews
    assert result.expected_accuracy is not None and abs(result.expected_accuracy - correct) < 0.1
    assert len(result.combined()) == len(pool)


def test_teacher_on_a_table() -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    result = annotate_with_teacher(
        frame.iloc[:400], frame.iloc[400:].drop(columns="target"), "target", check=False
    )
    truth = frame["target"].iloc[400:]
    assert (result.annotated["target"] == truth.loc[result.annotated.index]).mean() >= 0.95


class FakeLLM:
    """Answers like an LLM would: labels by a keyword, abstains on some, garbles one line."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        items = re.findall(r"^(\d+)\. (.*)$", prompt, re.MULTILINE)
        lines = []
        for number, text in items:
            text = json.loads(text).lower()
            if "abstain-me" in text:
                lines.append(json.dumps({"item": int(number), "label": "ABSTAIN", "confidence": 0.0}))
            elif "love" in text:
                lines.append(json.dumps({"item": int(number), "label": "great", "confidence": 0.9}))
            elif "meh" in text:
                lines.append(json.dumps({"item": int(number), "label": "other", "confidence": 0.5}))
            else:
                lines.append(f'{{"item": {number}, "label": "other", "confidence": 0.8}}')
        lines.append("not json at all")
        return "Here you go:\n" + "\n".join(lines)


def test_llm_seam_with_a_fake_completion() -> None:
    pool = pd.DataFrame(
        {"review": ["I love it", "meh", "abstain-me please", "broken on arrival", "love love", "tastes odd"]}
    )
    fake = FakeLLM()
    result = annotate_with_llm(pool, "review", ["great", "other"], fake, label="score", batch_size=4)
    assert result.calls == 2 == len(fake.prompts) and result.prompt_chars == sum(map(len, fake.prompts))
    assert result.annotated["score"].to_dict() == {0: "great", 3: "other", 4: "great", 5: "other"}
    assert sorted(result.set_aside.index) == [1, 2]  # low confidence, abstained
    assert (result.annotated[MARK] == "llm").all() and (result.set_aside[MARK] == NEEDS_REVIEW).all()
    capped = annotate_with_llm(pool, "review", ["great", "other"], FakeLLM(), batch_size=4, max_calls=1)
    assert capped.calls == 1 and len(capped.set_aside) >= 2  # items past the budget wait for a person


def test_parse_answers_rejects_unknown_classes_and_bad_numbers() -> None:
    answer = "\n".join(
        [
            '{"item": 1, "label": "great", "confidence": 0.9}',
            '{"item": 2, "label": "terrible", "confidence": 0.9}',
            '{"item": 9, "label": "great", "confidence": 0.9}',
            '{"item": 3, "label": "other", "confidence": 7}',
        ]
    )
    assert parse_answers(answer, 3, ["great", "other"]) == {0: ("great", 0.9)}


def test_text_augmentation_keeps_labels_and_marks_rows(reviews: pd.DataFrame) -> None:
    train = reviews.head(50)
    more = augment_text(train, "review", "score", per_row=2, seed=3)
    assert len(more) == 150
    originals, new = more[more["augmented_from"].isna()], more[more["augmented_from"].notna()]
    assert originals["review"].tolist() == train["review"].tolist()
    sources = train["score"].to_numpy()[new["augmented_from"].astype(int).to_numpy()]
    assert (new["score"].to_numpy() == sources).all()
    changed = (
        new["review"].to_numpy() != train["review"].to_numpy()[new["augmented_from"].astype(int)]
    ).mean()
    assert changed > 0.9
    assert augment_text(train, "review", per_row=1, seed=3).equals(
        augment_text(train, "review", per_row=1, seed=3)
    )


def test_synonyms_come_from_the_shipped_table() -> None:
    table = synonyms()
    assert "great" in table and "excellent" in table["great"]
    out = augment_sentence("This coffee is great and cheap", random.Random(0), methods=("synonym",), p=1.0)
    words = out.split()
    assert words[3] in table["great"] and words[5] in table["cheap"]


def test_test_data_is_never_augmented(tmp_path: Path, reviews: pd.DataFrame) -> None:
    with pytest.raises(UserError, match="looks like test data"):
        augment_text(reviews.head(5), "review", source_name=str(tmp_path / "test.csv"))
    twice = augment_text(reviews.head(5), "review")
    with pytest.raises(UserError, match="already holds augmented rows"):
        augment_text(twice, "review")


def test_image_augmentation_with_pil(tmp_path: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = []
    for i in range(4):
        path = tmp_path / f"d{i}.png"
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).resize((32, 32)).save(path)
        rows.append({"image": str(path), "label": str(digits.target[i])})
    more = augment_images(pd.DataFrame(rows), "image", tmp_path / "aug", per_row=2, seed=0)
    new = more[more["augmented_from"].notna()]
    assert len(new) == 8
    for _, row in new.iterrows():
        with Image.open(row["image"]) as img:
            assert img.size == (32, 32)
        source = rows[int(row["augmented_from"])]
        assert row["label"] == source["label"]
        with Image.open(source["image"]) as a, Image.open(row["image"]) as b:
            assert np.asarray(a.convert("RGB")).tolist() != np.asarray(b).tolist()
