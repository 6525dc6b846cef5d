"""Auto-annotation of an unlabelled pool: by a teacher model trained on the labelled rows, or by an
LLM through a `complete(prompt) -> str` callable. Confident answers become labels; the rest are set
aside for a person. Every annotated row is marked: `annotated_by` and `annotation_confidence`.

    result = annotate_with_teacher(labelled, pool, label="score", text="review", min_confidence=0.9)
    result.annotated      # pool rows with a label, annotated_by="teacher:...", annotation_confidence
    result.set_aside      # pool rows for a person (annotated_by="needs_review")

    result = annotate_with_llm(pool, "review", ["great", "other"], complete=my_llm, label="score")
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainer_agent.skills.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

MARK = "annotated_by"
CONFIDENCE = "annotation_confidence"
NEEDS_REVIEW = "needs_review"
ABSTAIN = "ABSTAIN"


@dataclass
class AnnotationResult:
    annotated: pd.DataFrame
    set_aside: pd.DataFrame
    by: str
    expected_accuracy: float | None = None  # of the teacher's confident answers, cross-validated
    calls: int = 0  # LLM calls made
    prompt_chars: int = 0  # LLM cost proxy: characters sent
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    trial: dict[str, Any] | None = None  # the pseudo-label experiment (skills.data.pseudo_labels)

    def combined(self) -> pd.DataFrame:
        """Annotated and set-aside rows together, each marked."""
        import pandas as pd

        return pd.concat([self.annotated, self.set_aside], ignore_index=True)


def annotate_with_teacher(
    labelled: pd.DataFrame,
    pool: pd.DataFrame,
    label: str,
    text: str | None = None,
    features: list[str] | None = None,
    min_confidence: float = 0.9,
    seed: int = 0,
    check: bool = True,
) -> AnnotationResult:
    """Label `pool` with a calibrated logistic-regression teacher trained on `labelled`.

    Its confident answers are selected in the labelled rows' class shares
    (`skills.data.pseudo_labels`). The teacher's accuracy on such answers is estimated by 5-fold
    cross-validation on the labelled rows, so the person knows what the threshold buys. With
    `check`, the pseudo-labels are an experiment: they are kept only when a probe trained with
    them beats one trained without, in paired cross-validation on the person's labels; otherwise
    every row is set aside for a person.
    """
    import numpy as np
    import pandas as pd

    from trainer_agent.skills.data.label_errors import feature_matrix
    from trainer_agent.skills.data.pseudo_labels import (
        balanced_selection,
        calibrated_teacher,
        pseudo_label_trial,
        shares_of,
    )

    start = time.perf_counter()
    if label not in labelled.columns:
        raise UserError(f"the labelled data has no column '{label}'")
    y = labelled[label].astype(str).to_numpy()
    classes = sorted(set(y))
    if len(classes) < 2:
        raise UserError(f"the labelled data has only one class in '{label}'; a teacher needs two or more")
    both = pd.concat(
        [labelled.drop(columns=[label]), pool.drop(columns=[label], errors="ignore")], ignore_index=True
    )
    both[label] = list(y) + [classes[0]] * len(pool)  # placeholder labels: the matrix ignores them
    try:
        x = feature_matrix(both, label, text, features)
    except ValueError as e:  # no numeric or few-valued column to learn from
        raise UserError(
            f"the teacher has nothing to learn from ({e}): name a free-text column with --text, or "
            "give numeric or categorical feature columns both files share."
        ) from None
    x_lab, x_pool = x[: len(labelled)], x[len(labelled) :]
    sparse_text = bool(text)
    teacher = calibrated_teacher(sparse_text, y).fit(x_lab, y)
    probs = teacher.predict_proba(x_pool)
    best = np.asarray(teacher.classes_)[probs.argmax(axis=1)].astype(str)
    confidence = probs.max(axis=1)
    chosen = balanced_selection(best, confidence, shares_of(y), min_confidence)
    keep = chosen.copy()

    expected = None
    if min(np.unique(y, return_counts=True)[1]) >= 5:
        from sklearn.model_selection import cross_val_predict

        oof = cross_val_predict(calibrated_teacher(sparse_text, y), x_lab, y, cv=5, method="predict_proba")
        sure = oof.max(axis=1) >= min_confidence
        if sure.any():
            expected = round(float((np.array(classes)[oof.argmax(axis=1)][sure] == y[sure]).mean()), 4)

    by = "teacher:logistic_regression"
    trial = None
    if check and keep.any():
        trial = pseudo_label_trial(x_lab, y, x_pool, sparse_text, classes, min_confidence, seed)
        if trial is not None and not trial.kept:
            keep = np.zeros(len(keep), dtype=bool)
    out = pool.copy()
    out[label] = best
    out[MARK] = by
    out[CONFIDENCE] = np.round(confidence, 4)
    aside = out[~keep].copy()
    aside[label] = None
    aside[MARK] = NEEDS_REVIEW
    result = AnnotationResult(annotated=out[keep].copy(), set_aside=aside, by=by, expected_accuracy=expected)
    sure_rows = int((confidence >= min_confidence).sum())
    counts = ", ".join(f"{c} {int((best[chosen] == c).sum())}" for c in classes)
    result.notes.append(
        f"The calibrated teacher is sure (confidence >= {min_confidence:.2f}) of {sure_rows} of {len(pool)} "
        "pool rows"
        + (f" (its cross-validated accuracy on such answers: {expected:.1%})" if expected is not None else "")
        + f"; {int(chosen.sum())} of them are selected in your data's class shares ({counts})."
    )
    if sure_rows and not chosen.any():
        result.notes.append(
            "A class has no confident answer, so a balanced selection keeps none: lower --min-confidence."
        )
    if trial is not None:
        result.trial = trial.as_dict()
        result.notes.append(trial.sentence())
    result.notes.append(
        f"{int(keep.sum())} pool rows are labelled and {int((~keep).sum())} set aside for a person"
        + (" (--no-check keeps the selected ones anyway)." if trial is not None and not trial.kept else ".")
    )
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def build_prompt(items: list[str], classes: list[str], instructions: str = "") -> str:
    """The annotation prompt for one batch: numbered items, the classes, and the answer format."""
    listing = "\n".join(f"{i + 1}. {json.dumps(t[:2000])}" for i, t in enumerate(items))
    return (
        f"{instructions.strip()}\n\n" * bool(instructions.strip())
        + "Label each item with exactly one of these classes: "
        + ", ".join(json.dumps(c) for c in classes)
        + f'. If you cannot tell, answer "{ABSTAIN}".\n'
        'Answer with one JSON object per line and nothing else: {"item": <number>, "label": <class>, '
        '"confidence": <0 to 1>}\n\nItems:\n' + listing
    )


def parse_answers(answer: str, n_items: int, classes: list[str]) -> dict[int, tuple[str, float]]:
    """Item number (0-based) -> (label, confidence) for every well-formed answer line with a known
    class; abstentions, unknown classes and malformed lines are left out (the item is set aside)."""
    parsed: dict[int, tuple[str, float]] = {}
    for line in answer.splitlines():
        found = re.search(r"\{.*\}", line)
        if not found:
            continue
        try:
            record = json.loads(found.group(0))
            item = int(record["item"]) - 1
            value = str(record["label"]).strip()
            confidence = float(record.get("confidence", 0.0))
        except (ValueError, KeyError, TypeError):
            continue
        if 0 <= item < n_items and value in classes and 0.0 <= confidence <= 1.0:
            parsed[item] = (value, confidence)
    return parsed


def annotate_with_llm(
    pool: pd.DataFrame,
    text: str,
    classes: list[str],
    complete: Callable[[str], str],
    label: str = "label",
    min_confidence: float = 0.7,
    batch_size: int = 20,
    instructions: str = "",
    max_calls: int | None = None,
) -> AnnotationResult:
    """Label `pool[text]` with an LLM, `batch_size` items per call, through `complete(prompt)`.

    The LLM may abstain; abstentions, unknown or malformed answers and answers below
    `min_confidence` are set aside. `max_calls` bounds the cost: items beyond it are set aside.
    """

    start = time.perf_counter()
    if text not in pool.columns:
        raise UserError(
            f"the pool has no text column '{text}'; its columns are: {', '.join(map(str, pool.columns))}"
        )
    if len(classes) < 2:
        raise UserError("LLM annotation needs at least two classes")
    texts = pool[text].astype(str).tolist()
    labels: list[Any] = [None] * len(texts)
    confidences: list[float] = [0.0] * len(texts)
    calls = chars = 0
    for begin in range(0, len(texts), batch_size):
        if max_calls is not None and calls >= max_calls:
            break
        batch = texts[begin : begin + batch_size]
        prompt = build_prompt(batch, classes, instructions)
        calls += 1
        chars += len(prompt)
        for i, (value, conf) in parse_answers(complete(prompt), len(batch), classes).items():
            labels[begin + i], confidences[begin + i] = value, conf
    out = pool.copy()
    out[label] = labels
    out[MARK] = "llm"
    out[CONFIDENCE] = confidences
    keep = out[label].notna() & (out[CONFIDENCE] >= min_confidence)
    aside = out[~keep].copy()
    aside[label] = None
    aside[MARK] = NEEDS_REVIEW
    result = AnnotationResult(
        annotated=out[keep].copy(), set_aside=aside, by="llm", calls=calls, prompt_chars=chars
    )
    result.notes.append(
        f"The LLM labelled {int(keep.sum())} of {len(pool)} pool rows "
        f"with confidence >= {min_confidence:.2f} "
        f"in {calls} calls ({chars:,} prompt characters); {int((~keep).sum())} are set aside for a person."
    )
    result.seconds = round(time.perf_counter() - start, 3)
    return result
