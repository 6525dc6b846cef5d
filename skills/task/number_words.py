"""Numbers written in words in French, German, Spanish, Italian and Portuguese, 2 to 100.

Every form is built once from the units, tens and joining rule of each language in
configs/request_words.yaml (`numbers.other`): "quatre-vingt-dix-neuf" 99, "soixante-quinze" 75,
"fünfundneunzig" 95, "noventa y nueve" 99, "novantotto" 98, "noventa e cinco" 95.

    >>> lexicon("fr")["quatre-vingt-dix-neuf"], lexicon("de")["fünfundneunzig"]
    (99, 95)

Zero and one are left as written: "un modèle" is an article, not a quantity.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from trainer_agent.skills.task.request_words import request_words


def _rules() -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = request_words()["numbers"]["other"]
    return rules


@functools.cache
def lexicon(lang: str) -> dict[str, int]:
    """Every written form of 2..100 in `lang` (lower case) -> its value."""
    rule = _rules()[lang]
    units: list[str] = [str(u) for u in rule["units"]]
    tens: dict[int, str] = {int(k): str(v) for k, v in rule["tens"].items()}
    join: str = rule["join"]
    out: dict[str, int] = {}
    for value, word in enumerate(units):
        out[word] = value
    for ten, word in tens.items():
        out[word] = ten
        if ten == 100:
            continue
        for unit in range(1, 10):
            out[_compound(word, units[unit], unit, join, rule)] = ten + unit
        for teen in range(10, 20) if ten in rule.get("teens_after", {}) else ():
            out[f"{word}{join}{units[teen]}"] = ten + teen
    for word, value in (rule.get("also") or {}).items():
        out[str(word)] = int(value)
    return {w.lower(): v for w, v in out.items() if v >= 2}


def _compound(ten: str, unit: str, value: int, join: str, rule: dict[str, Any]) -> str:
    if value == 1 and rule.get("and_one"):
        return ten + rule["and_one"]
    if join == "und":  # German: the unit first, "ein" for one
        return ("ein" if value == 1 else unit) + "und" + ten
    if join == "":  # Italian: venti + uno -> ventuno, venti + tre -> ventitré
        head = ten[:-1] if unit[0] in "aeiou" else ten
        return head + ("tré" if unit == "tre" else unit)
    return ten + join + unit


def _key(words: str) -> str:
    return " ".join(words.lower().replace("-", " ").split())


@functools.cache
def _by_key(langs: frozenset[str]) -> dict[str, int]:
    return {_key(w): v for lang in sorted(langs) if lang in _rules() for w, v in lexicon(lang).items()}


def pattern(langs: frozenset[str]) -> str | None:
    """A regular expression for the number words of `langs` (spaces and hyphens interchangeable,
    the longest form first), or None when none of them has any."""
    words = sorted(_by_key(langs), key=len, reverse=True)
    if not words:
        return None
    body = "|".join(r"[\s-]+".join(re.escape(part) for part in w.split()) for w in words)
    return rf"(?<![\w-])(?:{body})(?![\w-])"


def value(words: str, langs: frozenset[str]) -> int | None:
    """The value of number words matched by `pattern(langs)`."""
    return _by_key(langs).get(_key(words))
