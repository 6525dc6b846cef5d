"""Which label value a person means when they name a class in their own words.

"recall on defaulters" on a yes/no column called `default`, "precision on bad loans" on a
good/bad column, "recall on cancelling subscribers" on a yes/no column called `churn`: people
name the positive class by a noun phrase, not by the value stored in the data. `read_class`
finds the one clear reading or says that there is none or more than one, so the Task agent can
say how it read the phrase, or ask.

Rules, in order: the phrase is a label (any case); the phrase contains a label or a synonym of one
(configs/synonyms.yaml); on a two-valued yes/no, 1/0 or true/false column, the phrase names the
column's event (same stem as the column name, or words of one event group in
configs/request_words.yaml: "churners" for `cancelled`) and reads as the positive value, or as the
negative one when negated ("non-defaulters").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trainer_agent.skills.data.augment import synonyms as load_synonyms
from trainer_agent.skills.task.reading import vocabulary

_POSITIVE = ("yes", "1", "true", "y", "t", "positive", "pos", "1.0")
_NEGATIVE = ("no", "0", "false", "n", "f", "negative", "neg", "0.0")
_NEGATION = frozenset({"non", "not", "no", "never", "without"})


@dataclass
class ClassReading:
    """The label `phrase` was read as (None: no clear reading), and the candidates when unclear."""

    phrase: str
    label: str | None
    candidates: list[str] = field(default_factory=list)
    how: str = ""  # why this label, for the decision text


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ations", "ation", "ers", "ing", "er", "ed", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "aeiou" else w


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w]+", text.lower()) if w]


def _same(a: str, b: str) -> bool:
    sa, sb = _stem(a), _stem(b)
    short, long_ = sorted((sa, sb), key=len)
    return sa == sb or (len(short) >= 5 and long_.startswith(short))


def _names(phrase_words: list[str], target: str) -> bool:
    """Whether the phrase's words name `target` (a label or a column name): same stem or synonym."""
    target_words = _words(target)
    if not target_words:
        return False
    if all(any(_same(w, t) for w in phrase_words) for t in target_words):
        return True
    synonyms = load_synonyms()
    return len(target_words) == 1 and any(
        w in synonyms.get(target_words[0], []) or target_words[0] in synonyms.get(w, []) for w in phrase_words
    )


def _event(phrase_words: list[str], column: str) -> bool:
    col = _words(column)
    if any(_same(w, c) for w in phrase_words for c in col):
        return True
    for group in vocabulary().events:
        members = [_words(g) for g in group]

        def in_group(words: list[str], members: list[list[str]] = members) -> bool:
            return any(all(any(_same(w, m) for w in words) for m in member) for member in members)

        if in_group(phrase_words) and in_group(col):
            return True
    return False


def _polarity(labels: list[str]) -> tuple[str, str] | None:
    """(positive, negative) of a two-valued yes/no-like label column, else None."""
    if len(labels) != 2:
        return None
    low = {lab.lower(): lab for lab in labels}
    for pos, neg in zip(_POSITIVE, _NEGATIVE, strict=True):
        if pos in low and neg in low:
            return low[pos], low[neg]
    return None


def read_class(phrase: str, labels: list[str], column: str | None) -> ClassReading:
    """The label of `labels` that `phrase` names, with how it was read; label None when unclear."""
    exact = [lab for lab in labels if lab.lower() == phrase.strip().lower()]
    if exact:
        return ClassReading(phrase, exact[0])
    words = _words(phrase)
    named = [lab for lab in labels if _names(words, lab)]
    if len(named) == 1:
        return ClassReading(phrase, named[0], how=f"it names '{named[0]}'")
    if len(named) > 1:
        return ClassReading(phrase, None, named)
    polarity = _polarity(labels)
    if polarity and column and _event(words, column):
        negated = any(w in _NEGATION or w.startswith("non") for w in words)
        label = polarity[1] if negated else polarity[0]
        return ClassReading(phrase, label, how=f"{'not ' if negated else ''}the event of column '{column}'")
    return ClassReading(phrase, None, list(labels))
