"""A request rewritten into the English the requirement parser reads, keeping where each part came from.

The parser (`skills.task.requirements`) reads English with digits. People also write numbers in
words ("ninety-nine percent", "three quarters", "zero point nine five"), decimal commas ("0,9"),
and other languages ("Exactitude d'au moins 99 %", "准确率至少达到95%"). `normalise` rewrites all
of that in one pass, with the vocabulary of configs/request_words.yaml, and keeps for each
character of the rewrite the span of the request it came from, so that a requirement still quotes
the person's own words (`Normalised.source`).

    >>> normalise("Accuracy must exceed ninety-nine percent").text
    'Accuracy must exceed 99 percent'

A language's filler words ("doit être", "de", "达到") are dropped only when the request uses at
least one of that language's metric, comparison or unit words, so an English "a" or "as" is never
touched.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from trainer_agent.skills.task import number_words
from trainer_agent.skills.task.request_words import request_words

_I = re.IGNORECASE
_CJK = "\u3000-\u9fff\uff00-\uffef"


@dataclass(frozen=True)
class Vocabulary:
    """configs/request_words.yaml, compiled."""

    units: dict[str, int]
    tens: dict[str, int]
    scales: dict[str, int]
    fractions: dict[str, int]  # word -> denominator
    chinese: dict[str, Any]  # digits, scales, point, percent, units
    content: dict[str, dict[str, str]]  # language -> phrase (lower case) -> English
    filler: dict[str, dict[str, str]]  # language -> phrase -> "" or "and"
    events: list[list[str]]


@functools.cache
def vocabulary() -> Vocabulary:
    """The vocabulary shipped in configs/request_words.yaml (read once)."""
    doc = request_words()
    nums = doc["numbers"]
    content: dict[str, dict[str, str]] = {}
    filler: dict[str, dict[str, str]] = {}
    tables = [*doc["languages"].items(), *doc.get("gloss", {}).items()]  # gloss: read for the checks
    for lang, table in tables:
        for english, phrases in table.items():
            side = filler if english in ("", "and") else content
            for phrase in phrases:
                side.setdefault(lang, {}).setdefault(str(phrase).lower(), english)
    return Vocabulary(
        units=nums["units"],
        tens=nums["tens"],
        scales=nums["scales"],
        fractions=nums["fractions"],
        chinese=nums["chinese"],
        content=content,
        filler=filler,
        events=[[str(w).lower() for w in group] for group in doc["events"]],
    )


@dataclass(frozen=True)
class Normalised:
    """The rewritten request and, for each of its characters, the span of `original` it stands for."""

    text: str
    original: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def source(self, start: int, end: int) -> str:
        """The words of the original request that `text[start:end]` was rewritten from."""
        if end <= start:
            return ""
        return self.original[self.starts[start] : self.ends[end - 1]].strip(" ,;.")


def _phrase_pattern(phrase: str) -> str:
    body = r"\s+".join(re.escape(w) for w in phrase.split()).replace("'", "['’]")
    head = "" if re.match(rf"[{_CJK}]", phrase) else r"(?<![\w])"
    tail = "" if re.search(rf"[{_CJK}'.]$", phrase) else r"(?![\w])"
    return head + body + tail


def _alternation(phrases: list[str]) -> str:
    return "|".join(_phrase_pattern(p) for p in sorted(phrases, key=len, reverse=True))


@functools.cache
def _number_words() -> tuple[re.Pattern[str], re.Pattern[str]]:
    v = vocabulary()
    word = "|".join(sorted([*v.units, *v.tens, *v.scales, *v.fractions, "point"], key=len, reverse=True))
    nw = rf"(?:{word})(?![\w])"
    frac = "|".join(v.fractions)
    small = "|".join(["a", "an", *v.units])
    joiner = rf"(?:[\s-]+and[\s-]+(?=(?:{small})[\s-]+(?:{frac})(?![\w]))|(?<=hundred)[\s-]+and[\s-]+|[\s-]+)"
    seq = rf"(?<![\w-])(?:(?:a|an)[\s-]+(?={nw}))?{nw}(?:{joiner}(?:(?:a|an)[\s-]+(?={nw}))?{nw})*"
    lang = re.compile(seq, _I)
    return lang, re.compile(rf"^(?:{word})$", _I)


def number_value(words: str) -> float | None:
    """The value of English number words ("ninety-nine", "three quarters", "zero point nine five").

    None when the words do not make a number ("point", "hundred and").
    """
    v = vocabulary()
    tokens = [t for t in re.split(r"[\s-]+", words.lower()) if t]
    if "point" in tokens:
        i = tokens.index("point")
        digits = tokens[i + 1 :]
        if not digits or any(v.units.get(d, 10) > 9 for d in digits):
            return None
        units = _integer(tokens[:i]) if tokens[:i] else 0.0
        return None if units is None else units + float("0." + "".join(str(v.units[d]) for d in digits))
    if tokens and tokens[-1] in v.fractions:
        denominator = v.fractions[tokens[-1]]
        head = tokens[:-1]
        whole: float | None = 0.0
        if "and" in head:
            cut = len(head) - 1 - head[::-1].index("and")
            whole, head = _integer(head[:cut]), head[cut + 1 :]
        count = 1.0 if head in ([], ["a"], ["an"]) else _integer(head)
        return None if whole is None or count is None else whole + count / denominator
    return _integer(tokens)


def _integer(tokens: list[str]) -> float | None:
    v = vocabulary()
    total, current, seen = 0.0, 0.0, False
    for i, t in enumerate(tokens):
        if t in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1] in v.scales:
            current, seen = 1.0, True
        elif t in v.units or t in v.tens:
            current, seen = current + v.units.get(t, v.tens.get(t, 0)), True
        elif t == "hundred":
            current, seen = max(current, 1.0) * 100, True
        elif t in v.scales:
            total, current, seen = total + max(current, 1.0) * v.scales[t], 0.0, True
        elif t != "and":
            return None
    return total + current if seen else None


def _chinese_pattern() -> str:
    """Chinese numerals, after 百分之 or not, or before 成 (tenths): two or more numeral characters,
    or one before a unit."""
    cn = vocabulary().chinese
    numeral = "".join([*cn["digits"], *cn["scales"], cn["point"]])
    units = _alternation([str(u) for u in cn["units"]])
    plain = rf"[{numeral}]{{2,}}|[{numeral}](?=\s*(?:{units}|{cn['tenths']}))"
    tenths = rf"(?P<cnten>{cn['tenths']}(?![功本绩员为]))"  # 九成: nine tenths, 90 percent
    digits_after_percent = rf"(?<={cn['percent']})\s*(?P<cndig>\d+(?:\.\d+)?)"
    return rf"(?P<cnpct>{cn['percent']}\s*)?(?:(?P<cnnum>{plain}){tenths}?|{digits_after_percent})"


def chinese_value(numeral: str) -> float | None:
    """The value of a Chinese numeral ("九十九" 99, "两百" 200, "一万五千" 15000, "零点九五" 0.95)."""
    cn = vocabulary().chinese
    digits, scales = cn["digits"], cn["scales"]
    whole, _, frac = numeral.partition(cn["point"])
    if any(c not in digits for c in frac):
        return None
    total, section, current = 0, 0, None
    for c in whole:
        if c in digits:
            current = digits[c] if current is None else current * 10 + digits[c]  # 二〇二六: digit by digit
        elif scales.get(c) == 10000:
            total, section, current = (total + section + (current or 0)) * 10000, 0, None
        elif c in scales:
            section, current = section + (1 if current is None else current) * scales[c], None
        else:
            return None
    value = float(total + section + (current or 0))
    if frac:
        value += float("0." + "".join(str(digits[c]) for c in frac))
    return value


def _format(x: float) -> str:
    return f"{x:.12g}"


@functools.cache
def _rewriter(languages: frozenset[str]) -> re.Pattern[str]:
    v = vocabulary()
    content = [p for table in v.content.values() for p in table]
    filler = [p for lang in languages for p in v.filler.get(lang, {})]
    numbers, _ = _number_words()
    parts = [
        rf"(?P<num>{numbers.pattern})",
        rf"(?P<word>{_alternation(content)})",
        r"(?P<comma>(?<![\d,.])\d+,\d{1,2}(?![\d,]))|(?P<zero>(?<![\d,.])0,\d+(?![\d,]))",
        _chinese_pattern(),
        rf"(?P<gap>(?<=[{_CJK}])(?=[0-9A-Za-z%])|(?<=[0-9A-Za-z%])(?=[{_CJK}]))",
    ]
    if filler:
        parts.insert(2, rf"(?P<filler>{_alternation(filler)})")
    if other := number_words.pattern(languages):  # "quatre-vingt-dix", "fünfundneunzig", ...
        parts.insert(1, rf"(?P<lnum>{other})")
    return re.compile("|".join(parts), _I)


def languages_in(text: str) -> frozenset[str]:
    """The languages of configs/request_words.yaml whose metric, comparison or unit words `text` uses."""
    v = vocabulary()
    return frozenset(
        lang for lang, table in v.content.items() if re.search(_alternation(list(table)), text, _I)
    )


def _replacement(m: re.Match[str], v: Vocabulary, languages: frozenset[str]) -> str | None:
    """The English for one match; None keeps the original."""
    if m.group("num") is not None:
        words = m.group("num")
        first = re.split(r"[\s-]+", words.lower())[0]
        # "one model" is not a quantity, and "10 million" or "half of the data" are read as written
        if words.lower() == "one" or first in v.scales or first in v.fractions or first == "point":
            return None
        value = number_value(words)
        return None if value is None else _format(value)
    if m.groupdict().get("lnum") is not None:
        found = number_words.value(m.group("lnum"), languages)
        return None if found is None else _format(found)
    if m.group("word") is not None:
        low = re.sub(r"\s+", " ", m.group("word").lower()).replace("’", "'")
        english = next((t[low] for t in v.content.values() if low in t), None)
        return None if english is None else f" {english} "
    if m.groupdict().get("filler") is not None:
        low = re.sub(r"\s+", " ", m.group("filler").lower()).replace("’", "'")
        english = next((v.filler[lang][low] for lang in languages if low in v.filler.get(lang, {})), "")
        return f" {english} "
    if m.group("cnnum") is not None or m.group("cndig") is not None:
        value = chinese_value(m.group("cnnum")) if m.group("cnnum") else float(m.group("cndig"))
        if value is None:
            return None
        if m.group("cnten"):
            return f" {_format(value * 10)} percent "
        return f" {_format(value)} percent " if m.group("cnpct") else f" {_format(value)}"
    if m.group("comma") is not None or m.group("zero") is not None:
        return m.group(0).replace(",", ".")
    return " "  # between a Chinese character and a digit or a Latin word


def normalise(request: str) -> Normalised:
    """`request` in the English the requirement parser reads, with a map back to the original."""
    v = vocabulary()
    languages = languages_in(request)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _rewriter(languages).finditer(request):
        new = _replacement(m, v, languages)
        if new is None:
            continue
        for i in range(pos, m.start()):
            out.append(request[i])
            starts.append(i)
            ends.append(i + 1)
        out.append(new)
        starts.extend([m.start()] * len(new))
        ends.extend([m.end()] * len(new))
        pos = m.end()
    for i in range(pos, len(request)):
        out.append(request[i])
        starts.append(i)
        ends.append(i + 1)
    return Normalised("".join(out), request, tuple(starts), tuple(ends))


def english_view(request: str) -> str | None:
    """The request read into English word by word (the vocabulary's `languages` and `gloss`), for
    the checks that read English (the ethics guard, the feasibility checks); None when the request
    uses no other language of the vocabulary or reads the same."""
    if not languages_in(request) and not re.search(f"[{_CJK}]", request):
        return None
    text = " ".join(normalise(request).text.split())
    return text if text != " ".join(request.split()) else None
