"""Deterministic parse of a request in plain English into measurable requirements and a TaskSpec.

    >>> [r.key + r.op + str(r.target) for r in parse_requirements("accuracy >= 90%, under 10M params")]
    ['accuracy>=0.9', 'params<10000000.0']

How it reads text: it finds *mentions* (a metric or constraint word: "accuracy", "recall on other",
"p95 latency", "parameters", "QPS", "containers", "model size") and *quantities* (a number with its
unit and the comparison phrase around it: "at least 90%", "under 10M", "2 GB", "20 ms or less").
Going left to right, each mention takes the quantity written right before it ("90% accuracy",
"2 GB containers") or else the first one after it, across filler words only ("accuracy should be
at least 0.9", "recall on the test set above 0.6"). A quantity is used once; units must fit the
mention. "precision and recall >= 0.7" gives both the same target.

Units and names:
- accuracy, f1 (macro), precision, recall, roc_auc, r2: fractions; "90%" and a bare 90 mean 0.9.
  "error rate under 5%" is accuracy > 0.95; "MSE under 25" is rmse < 5.
- params: counts with k / M / B / thousand / million / billion.
- size_bytes: decimal KB/MB/GB (1e3, 1e6, 1e9) and binary KiB/MiB/GiB (2**10, 2**20, 2**30).
- memory_mb is in MiB, because containers are sized in binary units: "2 GB" and "2 GiB" both
  mean 2048, "512 MB" means 512. Only sizes tied to containers/memory/RAM become memory_mb;
  "2 GB of data" is nothing, "model under 5 MB" or "smaller than 5 MB" is size_bytes.
- latency in ms (seconds are converted): plain latency and p90/p95 -> latency_p95_ms, p99 / tail /
  max -> latency_p99_ms, p50 / median / mean -> latency_p50_ms.
- qps: "100 QPS", "250 requests per second", "throughput of 50 req/s" -> qps >= N.
A bare number keeps the direction in which the measure gets better (>= for accuracy and qps,
<= for errors, latency, size, params and memory). Vague speed and device words ("real-time", "on
their phones") add a limit of their own when none is stated, said as an assumption
(`skills.task.assumed_limits`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import Op, Requirement, TaskSpec, TaskType, Unclear
from trainer_agent.skills.task.assumed_limits import assumed_limits
from trainer_agent.skills.task.class_names import read_class
from trainer_agent.skills.task.reading import Normalised, normalise
from trainer_agent.skills.task.task_infer import infer_task, task_from_words

if TYPE_CHECKING:
    import pandas as pd

_I = re.IGNORECASE
HIGHER_IS_BETTER = frozenset({"accuracy", "f1", "precision", "recall", "roc_auc", "r2", "qps"})
_FRACTIONS = frozenset({"accuracy", "f1", "precision", "recall", "roc_auc", "r2", "error_rate"})
_PER_CLASS = frozenset({"f1", "precision", "recall"})
_UNIT_WORDS = frozenset({"qps", "params", "memory_mb", "size_bytes"})  # "100 requests per second"

# ---- comparison phrases ---------------------------------------------------------------------
# "good"/"good_strict" follow the metric's direction ("or better", "better than"); "cap" is
# "up to", which for a throughput means capacity (>=) and elsewhere a ceiling (<=).
_WORD_OPS: list[tuple[str, str]] = [
    (r"(?:at|equal\s+to)\s+or\s+(?:below|under|less\s+than|lower\s+than|smaller\s+than|fewer\s+than)", "<="),
    (r"(?:less|lower|smaller|fewer)\s+than\s+or\s+equal\s+to", "<="),
    (r"(?:at|equal\s+to)\s+or\s+(?:above|over|more\s+than|greater\s+than|higher\s+than)", ">="),
    (r"(?:more|greater|higher)\s+than\s+or\s+equal\s+to", ">="),
    (r"(?:not|never)\s+(?:be\s+)?(?:go\s+|fall\s+|drop\s+)?(?:below|under|less\s+than|lower\s+than)", ">="),
    (
        r"(?:not|never)\s+(?:be\s+)?(?:go\s+)?(?:above|over|exceed|more\s+than|greater\s+than|higher\s+than)",
        "<=",
    ),
    (r"(?:no|not)\s+(?:more|greater|higher|larger|bigger|longer|slower)\s+than", "<="),
    (r"(?:no|not)\s+(?:less|fewer|lower|smaller)\s+than", ">="),
    (r"(?:no|not)\s+worse\s+than", "good"),
    (
        r"at\s+least|(?:a\s+)?minimum(?:\s+of)?|min\.?|reach(?:es|ing)?|achiev(?:e|es|ing)|attain(?:s|ing)?|hit",
        ">=",
    ),
    (
        r"at\s+most|(?:a\s+)?maximum(?:\s+of)?|max\.?|within|capped\s+at|limited\s+to|fits?\s+(?:in|into|within)",
        "<=",
    ),
    (r"up\s+to", "cap"),
    (r"better\s+than|beat(?:s|ing)?|outperform(?:s|ing)?", "good_strict"),
    (r"above|over|more\s+than|greater\s+than|higher\s+than|exceed(?:s|ing)?|in\s+excess\s+of", ">"),
    (
        r"under|below|less\s+than|fewer\s+than|smaller\s+than|lower\s+than|shorter\s+than|faster\s+than|beneath|sub-",
        "<",
    ),
]
_SYMBOL_OPS = [(r">=|=>|≥|⩾", ">="), (r"<=|=<|≤|⩽", "<="), (r">", ">"), (r"<", "<")]
_OP_ALT = "|".join(
    [rf"(?P<w{i}>(?<![A-Za-z])(?:{p}))" for i, (p, _) in enumerate(_WORD_OPS)]
    + [rf"(?P<s{i}>{p})" for i, (p, _) in enumerate(_SYMBOL_OPS)]
)
# An operator that ends right where a number starts: "at least 90", "a minimum of about 0.9", "≥0.92".
_OP_BEFORE = re.compile(
    rf"(?:{_OP_ALT})(?:\s+(?:of|a|an|about|around|approximately|roughly))*\s*[~≈]?\s*$", _I
)
_SUFFIX = re.compile(
    r"\s*(?:(?P<ge>or\s+(?:higher|more|above|greater|over)|\+|at\s+(?:minimum|least))"
    r"|(?P<good>or\s+better)"
    r"|(?P<le>or\s+(?:less|lower|fewer|below|under|smaller|faster)|at\s+(?:maximum|most)"
    r"|(?:max|tops)(?=\s*(?:[,.;)]|$|and\b))))",
    _I,
)


def _op_from(match: re.Match[str]) -> str:
    for name, text in match.groupdict().items():
        if text is not None and name[0] in "ws" and name[1:].isdigit():
            return (_WORD_OPS if name[0] == "w" else _SYMBOL_OPS)[int(name[1:])][1]
    return ""


# ---- quantities ------------------------------------------------------------------------------
_QTY = re.compile(
    r"(?<![\w.])(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[+-]?\d+)?|\.\d+)"
    r"(?:\s*(?:(?P<pct>%|percent(?:age)?(?:\s+points?)?|per\s?cent|pct)"
    r"|(?P<bytes>[kmgt]i?b(?:ytes?)?|(?:kilo|mega|giga|tera|kibi|mebi|gibi|tebi)bytes?|bytes?)"
    r"|(?P<time>ms|msecs?|millis(?:econds?)?|milliseconds?|µs|μs|us|microseconds?|ns|nanoseconds?|secs?|seconds?|s)"
    r"|(?P<mult>k|thousand|mn|mil|million|m|bn|billion|b)))?(?![A-Za-z0-9])",
    _I,
)
_MULT = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mil": 1e6, "million": 1e6}
_MULT.update({"b": 1e9, "bn": 1e9, "billion": 1e9})
_SIZE_PREFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}  # bytes per unit
_SIZE_PREFIX.update({"ki": 2.0**10, "mi": 2.0**20, "gi": 2.0**30, "ti": 2.0**40})
_MIB_PREFIX = {"": 2.0**-20, "k": 2.0**-10, "m": 1.0, "g": 2.0**10, "t": 2.0**20}


@dataclass
class _Qty:
    start: int  # includes the operator phrase before the number
    num_start: int
    end: int  # includes the unit and a trailing "or better"
    value: float
    unit: str  # "", "pct", "bytes", "time", "mult"
    unit_text: str
    op: str  # "" when none was written


def _byte_prefix(unit_text: str) -> str:
    u = unit_text.lower()
    for word, p in (("kilo", "k"), ("mega", "m"), ("giga", "g"), ("tera", "t")):
        if u.startswith(word):
            return p
    for word, p in (("kibi", "ki"), ("mebi", "mi"), ("gibi", "gi"), ("tebi", "ti")):
        if u.startswith(word):
            return p
    if u.startswith("byte") or u == "b":
        return ""
    return u[:2] if len(u) > 2 and u[1] == "i" else u[:1]


def _quantities(text: str) -> list[_Qty]:
    out = []
    for m in _QTY.finditer(text):
        value = float(m.group("num").replace(",", ""))
        unit = next((g for g in ("pct", "bytes", "time", "mult") if m.group(g)), "")
        unit_text = m.group(unit) if unit else ""
        num_start = m.start()
        if (
            num_start > 0
            and text[num_start - 1] == "-"
            and (num_start < 2 or not text[num_start - 2].isalnum())
        ):
            value, num_start = -value, num_start - 1  # "R² >= -0.1", but not "top-5" or "sub-10ms"
        start, op = num_start, ""
        if before := _OP_BEFORE.search(text, max(0, num_start - 60), num_start):
            start, op = before.start(), _op_from(before)
        end = m.end()
        suffix = _SUFFIX.match(text, end)
        if suffix and not op:
            op = ">=" if suffix.group("ge") else "good" if suffix.group("good") else "<="
            end = suffix.end()
        out.append(_Qty(start, num_start, end, value, unit, unit_text, op))
    return out


# ---- mentions --------------------------------------------------------------------------------
_SIZE_OF_DATA = (
    r"(?:data(?:set)?|training(?:\s+set)?|test(?:\s+set)?|batch|sample|vocab(?:ulary)?|input|image|file|corpus|"
    r"context|window|step)[\s-]+size"
)
_LAT_PREFIX = (
    r"p(?:50|90|95|99(?:\.9)?)|(?:50|90|95|99)(?:th)?[\s-]*percentile|median|average|avg|mean|tail|"
    r"worst[\s-]case|max(?:imum)?"
)
_MENTIONS: list[tuple[str, str]] = [
    ("ignore", r"top[\s-]?(?:[2-9]|\d\d+)[\s-]+accuracy"),
    ("ignore", _SIZE_OF_DATA),
    (
        "latency",
        rf"(?:(?:{_LAT_PREFIX})[\s-]*)?(?:latency|latencies|response[\s-]times?|inference[\s-]times?)",
    ),
    ("latency", r"p(?:50|90|95|99(?:\.9)?)"),
    ("respond", r"respon(?:d|ds|se|ses)"),
    (
        "qps",
        r"qps|rps|throughput|(?:(?:requests?|reqs?|queries|predictions?|inferences?|calls|transactions)\s*"
        r"(?:/|per|a|each)\s*|per\s+)(?:s|sec|second)",
    ),
    (
        "params",
        r"(?:(?:number|count|#)\s+of\s+)?(?:trainable\s+|model\s+)?(?:parameters|parameter|params|param)"
        r"(?:\s+(?:count|budget))?",
    ),
    (
        "memory_mb",
        r"(?:memory|ram)(?:\s+(?:limit|budget|cap|usage|footprint))?|containers?|pods?|vms?|instances?|"
        r"machines?|heap",
    ),
    (
        "size_bytes",
        r"(?:(?:exported|serialized|saved|final|onnx|compressed|quantized)[\s-]+)*(?:model|onnx|checkpoint|"
        r"artifact|weights)(?:[\s-]+(?:file|binary|weights|artifact))?(?:[\s-]+size)?(?:\s+on\s+disk)?|"
        r"(?:disk|download|binary)[\s-]size|size(?:\s+on\s+disk)?|on[\s-]disk|footprint",
    ),
    ("error_rate", r"(?:classification\s+|test\s+)?(?:error[\s-]rate|misclassification(?:\s+rate)?)"),
    (
        "accuracy",
        r"(?:top[\s-]?1\s+|overall\s+|classification\s+|test\s+|validation\s+)?(?:accuracy|accurate|acc)",
    ),
    (
        "f1",
        r"(?:(?:macro|micro|weighted|binary)(?:[\s-]*avg|[\s-]*averaged?)?[\s_-]*)?f[\s_-]?1(?:[\s_-]*(?:score|measure))?"
        r"|f[\s-]?(?:score|measure)",
    ),
    ("precision", r"precision"),
    ("recall", r"recall|sensitivity|true[\s-]positive[\s-]rate|tpr"),
    (
        "roc_auc",
        r"(?:roc[\s_-]*)?auc(?:[\s_-]*roc)?(?:[\s_-]*score)?|area\s+under\s+(?:the\s+)?(?:roc\s+)?curve",
    ),
    ("mae", r"mae|mean[\s-]absolute[\s-]error"),
    ("rmse", r"rmse|root[\s-]mean[\s-]squared?[\s-]error"),
    ("mse", r"mse|mean[\s-]squared?[\s-]error"),
    ("r2", r"r2|r²|r\^2|r[\s-]?squared|coefficient\s+of\s+determination"),
    (
        "ignore",
        r"versions?|python|epochs?|(?:(?:training|train|test|input|raw|labell?ed|unlabell?ed|image|text|tabular|"
        r"my|our|your|the)\s+)?data(?:sets?)?|files?|rows?|columns?|records|samples|examples|images|gpus?|"
        r"cpus?|cores?|workers|replicas|threads|years?|months?|weeks?|days?|hours?|minutes?|mins|classes|features|layers",
    ),
]
_MENTIONS.append(("qps", r"/\s*s(?:ec)?"))  # "100/s": no word boundary before the slash
_WORD_START = r"(?<![\w/])"
_MENTION_RE = re.compile(
    "|".join(
        rf"(?P<k{i}>{'' if p.startswith('/') else _WORD_START}(?:{p})(?![\w]))"
        for i, (_, p) in enumerate(_MENTIONS)
    ),
    _I,
)
_COMPATIBLE = {
    "params": {"", "mult"},
    "qps": {"", "mult"},
    "memory_mb": {"bytes"},
    "size_bytes": {"bytes"},
    "ignore": {"", "pct", "bytes", "time", "mult"},
}
_PRE_GAP = re.compile(r"(?:\s|-|\bof\b)*", _I)
_ABSORB_GAP = re.compile(r"(?:\s|-|\bof\b|\bat\b)*", _I)
_TIGHT_GAP = re.compile(r"[\s:=]*")
_EVAL_SET = (
    r"on\s+(?:the\s+|our\s+|a\s+)?(?:test|held[\s-]?out|holdout|validation|val|dev|eval(?:uation)?|unseen)"
    r"(?:\s+(?:set|data|split))?"
)
_FILLER = re.compile(
    rf"(?:{_EVAL_SET}|[\s:=()~≈\"'-]|\b(?:of|is|are|be|to|should|must|shall|will|would|can|needs?|has|have|that|which|"
    r"it|its|with|a|an|the|at|on|in|into|score|rate|value|overall|kept|keep|stay|stays|remain|remains|around|about|"
    r"approximately|roughly|equal|equals|target|goal|required|needed|budget|limit|cap|handle|handles|sustain|"
    r"serve|support|do|does|get|gets|time|times)\b)*",
    _I,
)
_CONJ = re.compile(r"\s*(?:,|and|or|&|/|\+|as\s+well\s+as)\s*(?:(?:and|or)\s+)?(?:the\s+)?", _I)


@dataclass
class _Mention:
    kind: str
    start: int
    end: int  # end of the words, after a class clause
    label: str | None = None
    every_class: bool = False
    bare_ok: bool = True  # a bare number after it is in its default unit ("latency under 20" -> ms)
    tail: int = 0  # end of the requirement's phrase
    unclear: bool = False  # names a class that could not be read as one label (asked, not guessed)


# Words after "recall on/of/for" that are not a class name: "recall of at least 0.7", "on the test set".
_NOT_A_CLASS_WORDS = (
    "at least most above below under over more less than greater fewer lower higher no not the a an each "
    "every all any both test testing held heldout held-out holdout validation val dev eval evaluation "
    "data dataset set average avg macro micro weighted is be should must minimum maximum min max around "
    "about approximately roughly reach within up score rate value unseen new our my your their this that "
    "these those its model classifier system predictions production"
)
_NOT_A_CLASS = frozenset(_NOT_A_CLASS_WORDS.split())
_CLASS_PREP = r"\s+(?:on|for|of|in)\s+(?:the\s+)?(?:(?:class|label|category)\s+)?"
_CLASS_AFTER = re.compile(
    r"\s+(?:on|for|of|in)\s+(?:the\s+)?(?P<marker>(?:class|label|category)\s+)?"
    r"(?:[\"'“‘`](?P<quoted>[^\"'”’`\n]{1,60})[\"'”’`]|(?P<word>[\w][\w-]*))"
    r"(?P<marker2>\s+(?:class|label|category)(?![\w]))?",
    _I,
)
_EVERY_AFTER = re.compile(
    r"\s+(?:on|for|of|in|across)\s+(?:each|every|all|any)\s+(?:single\s+|individual\s+)?(?:class(?:es)?|labels?|categor(?:y|ies))\b",
    _I,
)
_CLASS_BEFORE = re.compile(
    r"(?:[\"'“‘`](?P<quoted>[^\"'”’`\n]{1,60})[\"'”’`]|\bclass\s+(?P<word>[\w-]+))(?:[\s-]+class)?[\s-]+$", _I
)
_EVERY_BEFORE = re.compile(r"\b(?:per|each|every)[\s-]class[\s-]+$", _I)


def _known(name: str, labels: list[str] | None) -> str | None:
    return next((lab for lab in labels or [] if lab.lower() == name.lower()), None)


@dataclass
class _Classes:
    """The labels of the data, its label column, and what reading the person's class names found."""

    labels: list[str] | None
    column: str | None = None
    readings: list[str] = field(default_factory=list)  # "recall on 'defaulters' read as class 'yes' ..."
    unclear: list[Unclear] = field(default_factory=list)


def _check_class(name: str, metric: str, classes: _Classes) -> str | None:
    """The label `name` means; None (and an `Unclear` noted) when there is no one clear reading."""
    labels = classes.labels
    if labels is None:
        return name
    reading = read_class(name, labels, classes.column)
    if reading.label is not None:
        if reading.how:
            where = f" of column '{classes.column}'" if classes.column else ""
            classes.readings.append(
                f"{metric} on '{name}' read as class '{reading.label}'{where} ({reading.how})"
            )
        return reading.label
    close = "could mean" if len(reading.candidates) < len(labels) else "is not one of the labels"
    classes.unclear.append(
        Unclear(
            text=f"{metric} on {name}",
            why=f"'{name}' {close} {', '.join(repr(c) for c in reading.candidates)}",
            question=f"Which class do you mean by '{name}': {' or '.join(map(repr, reading.candidates))}?",
        )
    )
    return None


# Words that end a class named in the person's words: "recall on cancelling subscribers above 0.6".
_PHRASE_END = _NOT_A_CLASS | frozenset(
    [
        "exceed",
        "exceeds",
        "exceeding",
        "and",
        "or",
        "with",
        "to",
        "from",
        "on",
        "of",
        "for",
        "in",
        "needs",
        "need",
        "has",
        "have",
        "stay",
        "stays",
        "remain",
        "remains",
        "beat",
        "beats",
        "better",
        "worse",
    ]
)
_PHRASE_WORD = re.compile(r"\s*([^\W\d][\w'-]*)")


def _noun_phrase(text: str, pos: int) -> tuple[str, int]:
    """Up to four words from `pos` that name a class, and where they end."""
    words: list[str] = []
    end = pos
    while len(words) < 4 and (hit := _PHRASE_WORD.match(text, end)):
        if hit.group(1).lower() in _PHRASE_END:
            break
        words.append(hit.group(1))
        end = hit.end()
    return " ".join(words), end


def _set_class(m: _Mention, name: str, classes: _Classes) -> None:
    m.label = _check_class(name, m.kind, classes)
    m.unclear = m.label is None


def _class_clause(text: str, m: _Mention, classes: _Classes) -> None:
    """Attach "recall on other" / "'other' recall" / "recall for each class" to a per-class mention."""
    labels = classes.labels
    before = text[max(0, m.start - 80) : m.start]
    if every := _EVERY_AFTER.match(text, m.end):
        m.end, m.every_class = every.end(), True
        return
    if every := _EVERY_BEFORE.search(before):
        m.start, m.every_class = m.start - len(every.group(0)), True
        return
    for lab in sorted(labels or [], key=len, reverse=True):  # known labels, multi-word ones included
        marker = r"(?:\s+(?:class|label|category))?"
        pat = rf"{_CLASS_PREP}[\"'“‘`]?(?P<lab>{re.escape(lab)})[\"'”’`]?{marker}(?![\w])"
        if hit := re.compile(pat, _I).match(text, m.end):
            more, end = _noun_phrase(text, hit.end())
            if more:  # "precision on bad loans": the label and the words after it name the class
                m.end = end
                _set_class(m, text[hit.start("lab") : end], classes)
            else:
                m.end, m.label = hit.end(), lab
            return
        if hit := re.search(rf"(?<![\w]){re.escape(lab)}(?:[\s-]+class)?[\s-]+$", before, _I):
            m.start, m.label = m.start - len(hit.group(0)), lab
            return
    hit = _CLASS_AFTER.match(text, m.end)
    if hit:
        marked = hit.group("marker") or hit.group("marker2") or hit.group("quoted")
        name, end = hit.group("quoted") or hit.group("word"), hit.end()
        word_ok = name[0].isalpha() and name.lower() not in _NOT_A_CLASS
        if word_ok and not marked:
            name, end = _noun_phrase(text, hit.start("word"))
        if marked or word_ok:
            m.end = end
            _set_class(m, name.strip(), classes)
            return
    if hit := _CLASS_BEFORE.search(before):
        m.start -= len(hit.group(0))
        _set_class(m, (hit.group("quoted") or hit.group("word")).strip(), classes)


def _mentions(text: str, classes: _Classes) -> list[_Mention]:
    out = []
    for hit in _MENTION_RE.finditer(text):
        kind = _MENTIONS[int(hit.lastgroup[1:])][0]  # type: ignore[index]
        m = _Mention(kind, hit.start(), hit.end())
        if kind in ("latency", "respond"):
            m.kind, m.bare_ok = _latency_name(hit.group(0)), kind == "latency"
        if kind in _PER_CLASS:
            _class_clause(text, m, classes)
        out.append(m)
    return out


def _latency_name(words: str) -> str:
    w = words.lower()
    if re.search(r"99|tail|worst|max", w):
        return "latency_p99_ms"
    if re.search(r"50|median|average|avg|mean", w):
        return "latency_p50_ms"
    return "latency_p95_ms"


# ---- pairing ---------------------------------------------------------------------------------
def _compatible(m: _Mention, q: _Qty, after: bool) -> bool:
    if m.kind.startswith("latency"):
        # "latency under 20" means ms; "100 responses" is not a latency.
        return q.unit == "time" or (after and q.unit == "" and m.bare_ok)
    if m.kind in _COMPATIBLE:
        return q.unit in _COMPATIBLE[m.kind]
    return q.unit in ({"", "pct"} if m.kind in _FRACTIONS else {""})


def _target(kind: str, q: _Qty) -> float | None:
    v = q.value
    if v < 0 and kind != "r2":  # only R² can be below zero
        return None
    if kind in _FRACTIONS:
        v = v / 100 if q.unit == "pct" or abs(v) > 1 else v
        return v if abs(v) <= 1 else None
    if kind in ("params", "qps"):
        return v * _MULT.get(q.unit_text.lower(), 1.0)
    if kind == "latency" or kind.startswith("latency_"):
        u = q.unit_text.lower()
        if u in ("µs", "μs", "us") or u.startswith("micro"):
            return v * 1e-3
        if u == "ns" or u.startswith("nano"):
            return v * 1e-6
        return v * 1e3 if u.startswith("s") else v
    if kind == "size_bytes":
        return v * _SIZE_PREFIX[_byte_prefix(q.unit_text)]
    if kind == "memory_mb":
        return v * _MIB_PREFIX[_byte_prefix(q.unit_text).rstrip("i")]
    return v


def _unit_kind(kind: str) -> bool:
    return kind in _UNIT_WORDS or kind.startswith("latency")


def _family(kind: str) -> str:
    return "fraction" if kind in _FRACTIONS and kind != "error_rate" else kind


def _resolve_op(op: str, name: str) -> Op:
    higher = name in HIGHER_IS_BETTER
    if op in ("", "good"):
        return ">=" if higher else "<="
    if op == "good_strict":
        return ">" if higher else "<"
    if op == "cap":
        return ">=" if name == "qps" else "<="
    return _OPS[op]


_OPS: dict[str, Op] = {">=": ">=", ">": ">", "<=": "<=", "<": "<"}
_FLIP: dict[str, Op] = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


def _requirement(text: str, m: _Mention, q: _Qty, op: str) -> Requirement | None:
    target = _target(m.kind, q)
    if target is None:
        return None
    name = {"mse": "rmse", "error_rate": "accuracy"}.get(m.kind, m.kind)
    if m.kind == "mse":
        target = math.sqrt(target)
    if m.kind == "error_rate":  # error rate below 5% == accuracy above 95%
        target, op = round(1 - target, 12), _FLIP[_resolve_op(op, "error_rate")]
    phrase = text[slice(*_span(m, q))].strip(" ,;.")
    return Requirement(name=name, op=_resolve_op(op, name), target=target, label=m.label, text=phrase)


def _suffix_op(text: str, pos: int) -> tuple[str, int] | None:
    if suffix := _SUFFIX.match(text, pos):
        return (">=" if suffix.group("ge") else "good" if suffix.group("good") else "<="), suffix.end()
    return None


def _trailing_class(text: str, m: _Mention, q: _Qty, classes: _Classes) -> None:
    """A class named after the number: "precision over 80% for class great"."""
    hit = _CLASS_AFTER.match(text, q.end)
    if not hit or m.label or m.every_class:
        return
    name = (hit.group("quoted") or hit.group("word")).strip()
    if hit.group("marker") or hit.group("marker2") or hit.group("quoted"):
        m.tail = hit.end()
        _set_class(m, name, classes)
    elif classes.labels and (known := _known(name, classes.labels)):
        m.label, m.tail = known, hit.end()


def _pair(text: str, mentions: list[_Mention], qtys: list[_Qty], classes: _Classes) -> dict:
    """Mention index -> (quantity, operator), left to right, each quantity used once."""
    used: set[int] = set()
    absorbed: set[int] = set()
    paired: dict[int, tuple[_Qty, str]] = {}
    for i, m in enumerate(mentions):
        if i in absorbed:
            continue
        before = [j for j, q in enumerate(qtys) if q.end <= m.start]
        after = [j for j, q in enumerate(qtys) if q.start >= m.end]
        choice, pre = None, False
        if before and before[-1] not in used:
            j = before[-1]
            if _PRE_GAP.fullmatch(text[qtys[j].end : m.start]) and _compatible(m, qtys[j], after=False):
                choice, pre = j, True
        if choice is None and after and after[0] not in used:
            j = after[0]
            gap = text[m.end : qtys[j].start]
            owner = next(  # the mention written right after the number: "2 GB of RAM", "90% accuracy"
                (n for n in mentions[i + 1 :] if n.start >= qtys[j].end),
                None,
            )
            if owner and not (
                _PRE_GAP.fullmatch(text[qtys[j].end : owner.start]) and _compatible(owner, qtys[j], False)
            ):
                owner = None
            if m.kind == "ignore":  # "version 2.0", but not "data 90% accuracy"
                gap_ok = bool(_TIGHT_GAP.fullmatch(gap)) and (owner is None or owner.kind == "ignore")
            else:  # "model with 2 GB of RAM" is a memory limit, not a model size
                taken = owner is not None and owner.kind != m.kind and _unit_kind(owner.kind)
                gap_ok = len(gap) <= 60 and bool(_FILLER.fullmatch(gap)) and not taken
            if gap_ok and _compatible(m, qtys[j], after=True):
                choice = j
        if choice is None:
            continue
        used.add(choice)
        q, op = qtys[choice], qtys[choice].op
        m.tail = max(m.end, q.end)
        if pre and not op and (suffix := _suffix_op(text, m.end)):  # "90% accuracy or better"
            op, m.tail = suffix
        for k in range(i + 1, len(mentions)):  # "throughput of 100 requests per second": one requirement
            n = mentions[k]
            if not pre and n.start >= q.end and _ABSORB_GAP.fullmatch(text[q.end : n.start]):
                if n.kind == m.kind and m.kind in _UNIT_WORDS:
                    absorbed.add(k)
                    m.tail = n.end
                elif n.kind.startswith("latency") and m.kind.startswith("latency"):  # "20 ms at p99"
                    absorbed.add(k)
                    m.tail, m.kind = n.end, n.kind if n.kind != "latency_p95_ms" else m.kind
                break
        if m.kind in _PER_CLASS:
            _trailing_class(text, m, q, classes)
        paired[i] = (q, op)
    # "precision and recall >= 0.7": a mention without a number shares the next one's.
    for i in range(len(mentions) - 2, -1, -1):
        m, nxt = mentions[i], mentions[i + 1]
        if i in paired or i in absorbed or i + 1 not in paired or _family(m.kind) != _family(nxt.kind):
            continue
        q, op = paired[i + 1]
        if _CONJ.fullmatch(text[m.end : nxt.start]) and _compatible(m, q, after=True):
            paired[i] = (q, op)
            m.tail = max(nxt.tail, q.end)
    return paired


def _same(r: Requirement) -> tuple:
    return (r.name, r.op, r.target, r.label)


@dataclass
class Reading:
    """What `read_requirements` made of a request: the requirements, how class names were read, and
    the parts that look like requirements but could not be read (to ask about, never to drop)."""

    requirements: list[Requirement]
    readings: list[str]
    unclear: list[Unclear]


def parse_requirements(text: str, labels: list[str] | None = None) -> list[Requirement]:
    """Every measurable target and constraint in `text`, in order of appearance, without duplicates.

    Args:
        text: the request, in English or one of the languages of configs/request_words.yaml.
        labels: the classes of the data; when given, a per-class target ("recall on other") must
            name one of them (case-insensitive, returned as spelled in `labels`). "recall for each
            class" becomes one requirement per label (one macro requirement without labels).

    Raises:
        UserError: a per-class target names no class of `labels` clearly (`read_requirements` asks
            instead).
    """
    reading = read_requirements(text, labels)
    for part in reading.unclear:
        if part.question:  # a class name without one clear reading
            raise UserError(
                f"the request asks for {part.text}, but {part.why}; the labels are: {', '.join(labels or [])}"
            )
    return reading.requirements


def read_requirements(text: str, labels: list[str] | None = None, label_column: str | None = None) -> Reading:
    """The requirements of `text` (see `parse_requirements`), how its class names were read, and what
    looks like a requirement but could not be read.

    A class may be named in the person's words ("recall on defaulters" on a yes/no column
    `label_column` = "default"): `skills.task.class_names.read_class` decides, and the reading is
    said in `Reading.readings`; with no one clear reading the part is `unclear`, with a question.
    """
    labels = [str(lab) for lab in labels] if labels is not None else None
    norm = normalise(text)
    text = norm.text
    classes = _Classes(labels, label_column)
    mentions = _mentions(text, classes)
    spans = [(m.start, m.end) for m in mentions]
    qtys = [q for q in _quantities(text) if not any(s <= q.num_start < e for s, e in spans)]
    paired = _pair(text, mentions, qtys, classes)
    found: list[tuple[int, Requirement]] = []
    read: set[int] = set()
    named: list[tuple[_Mention, int]] = []  # a measure with a requirement, and where its phrase ends
    for i, (q, op) in paired.items():
        m = mentions[i]
        read.add(id(q))
        if m.kind == "ignore" or m.unclear:
            continue
        class_list: list[str | None] = list(labels) if m.every_class and labels else [m.label]
        for lab in class_list:
            m.label = lab
            if req := _requirement(text, m, q, op):
                req.text = norm.source(*_span(m, q))
                found.append((min(m.start, q.start), req))
                named.append((m, max(m.end, m.tail, q.end)))
    # A second bound on the measure just named: "accuracy at least 0.9 but no higher than 0.8",
    # "accuracy above 0.9; the risk team says it must stay below 0.8", "... the accuracy must also
    # stay below 0.8". A comparison and a number not yet read, soon after the last measure named,
    # with no other number between (in a request that has a requirement already).
    ends = {id(m): end for m, end in named}
    for q in qtys:
        earlier = [m for m in mentions if m.end <= q.start and m.kind != "ignore" and not m.unclear]
        if id(q) in read or not q.op or not earlier or not named:
            continue
        m = max(earlier, key=lambda x: x.end)
        end = ends.get(id(m), m.end)
        between = any(end <= other.num_start < q.start for other in qtys if other is not q)
        if not between and q.start - end <= _SECOND_BOUND_CHARS and (req := _requirement(text, m, q, q.op)):
            req.text = norm.source(min(m.start, q.start), q.end)
            found.append((q.start, req))
            read.add(id(q))
    # A size or a time in ms with a comparison but no word to tie it to: "smaller than 1.5 MiB" is
    # the model's size, "under 20 ms" a latency. Without a comparison ("2 GB of data") it is nothing.
    for q in qtys:
        if id(q) in read or not q.op:
            continue
        kind = "size_bytes" if q.unit == "bytes" else "latency_p95_ms" if _is_subsecond(q.unit_text) else ""
        mention = _Mention(kind, q.start, q.end)
        if kind and (req := _requirement(text, mention, q, q.op)):
            req.text = norm.source(*_span(mention, q))
            found.append((q.start, req))
            read.add(id(q))
    out: list[Requirement] = []
    for _, req in sorted(found, key=lambda pair: pair[0]):
        if all(_same(r) != _same(req) for r in out):
            out.append(req)
    unread = [_unread(norm, q) for q in qtys if id(q) not in read and _looks_required(text, q)]
    assumed, said = assumed_limits(norm.original, out)
    return Reading(out + assumed, classes.readings + said, classes.unclear + [u for u in unread if u.text])


_SECOND_BOUND_CHARS = 120  # how far after a requirement a bare bound is still read as on its measure


def _span(m: _Mention, q: _Qty) -> tuple[int, int]:
    return min(m.start, q.start), max(m.end, m.tail, q.end)


# A share of something ("20% of the data", "0.2 in the test split") is not a target.
_SHARE_OF = re.compile(r"\s*(?:of|in|for)\b", _I)


def _looks_required(text: str, q: _Qty) -> bool:
    """A number nobody wrote without meaning a target: with a comparison, %, a time or a size, or a
    fraction like 0.9."""
    if _SHARE_OF.match(text, q.end) and not q.op:
        return False
    written = text[q.num_start : q.end]
    fraction = q.unit == "" and 0 < q.value < 1 and "." in written
    return bool(q.op) or q.unit in ("pct", "bytes") or (q.unit == "time" and q.unit_text != "s") or fraction


_CLAUSE_END = re.compile(r"[.;!?。；，！？、\n]|,(?!\d)|\.(?!\d)|\s(?:and|und|et|y|e)\s")


def _unread(norm: Normalised, q: _Qty) -> Unclear:
    """The clause of the original request around an unread quantity, quoted for the question."""
    original = norm.original
    lo, hi = norm.starts[q.start], norm.ends[q.end - 1]
    before = [m.end() for m in _CLAUSE_END.finditer(original, 0, lo)]
    after = _CLAUSE_END.search(original, hi)
    start = max(before[-1] if before else 0, lo - 60)
    end = min(after.start() if after else len(original), hi + 30)
    quote = original[start:end].strip(" ,")
    return Unclear(text=quote, why="it looks like a requirement but I could not read which measure it limits")


def _is_subsecond(unit: str) -> bool:
    """ms, µs or ns: a time with a comparison and no other word is a latency ("under 20 ms")."""
    u = unit.lower()
    return u in ("ms", "µs", "μs", "us", "ns") or u.startswith(("milli", "micro", "nano", "msec"))


def parse_request(
    text: str, df: pd.DataFrame | None = None, label: str | None = None, text_col: str | None = None
) -> TaskSpec:
    """Task type, columns and requirements of a request, read against the data when there is some.

    With `df` None the task type comes from the words alone and the columns stay as given (None
    unless overridden); the caller asks for the data. For classification, per-class targets are
    checked against the label column's values.
    """

    if df is None:
        reading = read_requirements(text)
        task = task_from_words(text)
        return TaskSpec(
            request=text,
            task_type=task,
            label_column=label,
            text_column=text_col,
            requirements=reading.requirements,
            unclear=reading.unclear,
            readings=reading.readings,
        )
    task, label_col, text_column, features = infer_task(text, df, label=label, text_col=text_col)
    labels = None
    if task in (TaskType.TEXT_CLASSIFICATION, TaskType.TABULAR_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION):
        labels = sorted({str(v) for v in df[label_col].dropna().unique()})
    reading = read_requirements(text, labels, label_col)
    return TaskSpec(
        request=text,
        task_type=task,
        label_column=label_col,
        text_column=text_column,
        feature_columns=features,
        requirements=reading.requirements,
        unclear=reading.unclear,
        readings=reading.readings,
    )
