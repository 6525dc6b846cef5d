"""Can the request be done with this data and this catalog? Deterministic checks, each a `Finding`.

Kinds of findings, in the order `skills.task.triage` applies them:

- unpredictable targets (`unpredictable`): lottery draws, dice, roulette, coin flips, guaranteed
  market returns, "never wrong on any future input" -> infeasible, because no data makes a random
  or guaranteed outcome learnable.
- impossible or contradictory requirements (`contradictions`): a metric target of 100% (no finite
  test set can show it), a lower bound above an upper bound on the same measure, fewer than one
  parameter, a latency, size or memory below what the smallest model of the catalog needs on
  this hardware, or a near-perfect target with a handful of parameters -> infeasible, each with
  a counter-proposal (`Finding.proposal`).
- no data (`no_data`): ask for it, or infeasible when the person says there is none to get.
- a vague request (`vague`): no task, no label, no metric -> ask for the label and the metric.
- too few labels for the targets (`label_shortfall`, rule in `labels_needed`) -> ask for N more.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType

if TYPE_CHECKING:
    import pandas as pd

_I = re.IGNORECASE

# What the smallest and fastest models of the catalog need on this hardware (2 CPU cores),
# measured: the smallest possible model (a logistic regression over one feature) is a 369-byte
# ONNX file answering a batch-1 onnxruntime call from Python in 0.02 ms p50 / 0.03 ms p95; the
# catalog's real models (skills/model/train.py families) take 0.2-0.5 ms p95, and the served process
# 90-100 MiB. The floors sit below those, so only requests that no model could meet are
# called infeasible.
LATENCY_FLOOR_MS = 0.01
SIZE_FLOOR_BYTES = 200
MEMORY_FLOOR_MB = 64
# A near-perfect target with a handful of parameters: the smallest models in the catalog (a few
# stumps, or a linear model over a few words) do not reach 99% on real data with < 100 parameters.
TINY_PARAMS = 100
NEAR_PERFECT = 0.99
FRACTION_METRICS = frozenset({"accuracy", "f1", "precision", "recall", "roc_auc"})

MIN_PER_CLASS = 10
MIN_ROWS_REGRESSION = 30
TEST_FRACTION = 0.2


@dataclass
class Finding:
    """One reason to stop or ask, with what to ask and what to propose instead."""

    decision: Literal["ask", "infeasible"]
    reason: str
    questions: list[str] = field(default_factory=list)
    proposal: list[Requirement] = field(default_factory=list)


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


_UNITS = {"latency_p50_ms": " ms", "latency_p95_ms": " ms", "latency_p99_ms": " ms", "memory_mb": " MiB"}
_NAMES = {
    "latency_p50_ms": "p50 latency",
    "latency_p95_ms": "p95 latency",
    "latency_p99_ms": "p99 latency",
    "memory_mb": "memory",
    "size_bytes": "model size",
}


def describe(r: Requirement) -> str:
    """A requirement as a person writes it: 'accuracy >= 99.9%', 'p95 latency <= 1 ms'."""
    if r.name in ("accuracy", "precision", "recall"):
        value = f"{round(r.target * 100, 6):g}%"
    elif r.name == "size_bytes":
        value = f"{_fmt(r.target)} bytes"
    else:
        value = _fmt(r.target) + _UNITS.get(r.name, "")
    name = _NAMES.get(r.name, r.name) + (f" on '{r.label}'" if r.label else "")
    return f"{name} {r.op} {value}"


# ---- unpredictable targets --------------------------------------------------------------------
_CHANCE_GAMES = re.compile(
    r"\b(?:lottery|lotto|powerball|mega\s*millions|euromillions|keno|bingo)\b"
    r"(?!\W+(?:ticket\s+)?(?:sales|revenue|demand|retailers?|scams?|fraud|players?\s+churn))",
    _I,
)
_CHANCE_CUES = re.compile(
    r"\b(?:predict\w*|forecast\w*|guess\w*|pick\w*|generat\w*|win\w*|beat\w*|numbers?|draws?|jackpot|"
    r"come\s+up|results?|outcomes?)\b",
    _I,
)
_RANDOM_EVENTS = re.compile(
    r"\b(?:predict\w*|forecast\w*|guess\w*|tell\w*|know|call)\b(?:\W+\w+){0,6}?\W+"
    r"(?:(?:next|outcome\s+of\s+(?:a|the)|result\s+of\s+(?:a|the))\W+)?(?:\w+\W+)?"
    r"(?:roulette(?:\s+(?:spins?|numbers?|wheel))?|dice\s+rolls?|(?:die|dice)\s+(?:throws?|outcomes?)|"
    r"(?:fair\s+)?coin\s+(?:flips?|toss(?:es)?)|slot\s+machines?|random\s+number\s+generator|"
    r"shuffled\s+(?:deck|cards?)|(?:next|winning)\s+cards?)",
    _I,
)
_GUARANTEED_MARKET = re.compile(
    r"\b(?:guarantee\w*|certain(?:ly)?|always|never\s+(?:lose|loses|wrong)|risk[-\s]free|sure[-\s]fire|100\s*%)"
    r"(?:\W+\w+){0,8}?\W+(?:profits?|returns?|gains?|beat(?:s|ing)?\s+the\s+market|stocks?|shares?|"
    r"crypto\w*|bitcoin|forex|market|prices?)\b"
    r"|\b(?:stocks?|shares?|crypto\w*|bitcoin|forex|market|prices?)(?:\W+\w+){0,6}?\W+"
    r"(?:with\s+)?(?:guarantee\w*|certainty|100\s*%\s*(?:accura\w*|certain\w*|sure)|"
    r"without\s+(?:ever\s+)?(?:being\s+wrong|losing|errors?|mistakes?))",
    _I,
)
_PERFECT_FOREVER = re.compile(
    r"\b(?:100\s*%|perfect(?:ly)?|always|guarantee\w*|never\s+(?:wrong|fails?|makes?\s+(?:a\s+)?mistakes?|errs?)|"
    r"no\s+(?:errors?|mistakes?)|zero\s+(?:errors?|mistakes?)|flawless\w*|every\s+single)"
    r"(?:\W+\w+){0,8}?\W+(?:all|every|any|each)\s+(?:\w+\s+)?(?:future|new|unseen|possible|incoming|real[-\s]world)"
    r"|\b(?:never\s+(?:be\s+)?(?:wrong|fails?|makes?\s+(?:a\s+)?mistakes?|errs?)|(?:must|should|will)\s+never\s+"
    r"(?:be\s+wrong|make\s+(?:a\s+)?mistakes?|misclassif\w*|err))\b"
    r"|\bguarantee\w*(?:\W+\w+){0,6}?\W+(?:100\s*%|perfect|no\s+errors?|zero\s+errors?|always\s+(?:right|correct))",
    _I,
)


_WHEN_NEXT = (
    r"(?:tomorrow\w*|future|coming|upcoming|in (?:\d+|a|one|two|ten) (?:days?|weeks?|months?|years?)|"
    r"next (?:week|month|year|quarter|day|draw|drawing|lottery|race|match|game|roll|spin|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)\w*)"
)
_EXACTLY = (
    r"(?:exact(?:ly)?|precise(?:ly)?|"
    r"to the (?:cent|penny|last (?:digit|decimal|cent)|second|minute|gram|degree)|"
    r"down to the (?:cent|penny|last digit|second)|with(?:out)? (?:no|zero|any) (?:error|margin))"
)
_EXACT_FUTURE = re.compile(
    rf"\b{_EXACTLY}(?:\W+\w+){{0,8}}?\W+{_WHEN_NEXT}|\b{_WHEN_NEXT}\W+(?:\w+\W+){{0,6}}?{_EXACTLY}",
    _I,
)
_PSEUDOSCIENCE = re.compile(
    r"\b(?:astrolog\w*|horoscopes?|zodiac(?: signs?)?|star signs?|birth charts?|palm ?(?:reading|istry)|"
    r"numerolog\w*|tarot|phrenolog\w*|graphology|aura (?:colou?rs?|readings?)|psychic\w*|"
    r"fortune[\s-]?tell\w*|feng shui|"
    r"what (?:they|he|she|people|someone|the person|a person|(?:my|our|the|his|her) \w+)"
    r"(?:'re| are| is|'s|’s) "
    r"(?:really |secretly |actually )?(?:thinking|dreaming)|"
    r"(?:their|his|her|people's) (?:private |inner |secret )?thoughts|"
    r"read(?:s|ing)? (?:(?:people|someone|a person|their|his|her|users?|my \w+)(?:'s|s'|’s)? )?"
    r"(?:minds?|thoughts))\b",
    _I,
)


_PREDICTS = re.compile(
    r"\b(?:predict|tell|guess|determin|infer|estimat|decid|judg|scor|rank|forecast|read)\w*", _I
)


def impossible_by_nature(request: str, requirements: list[Requirement]) -> Finding | None:
    """Infeasible when what is asked cannot be known from any data: exact future values, or a
    pseudo-science (astrology, mind reading...) used to predict something (a text *about* astrology
    is data like any other); `unpredictable` covers chance and guarantees."""
    if m := _EXACT_FUTURE.search(request):
        return Finding(
            "infeasible",
            f'"{m.group(0)}" asks for exact future values: the future depends on what no data holds yet, '
            "so a model can estimate with an error, never hit the value exactly. I can train one that "
            "forecasts it from your history and report its measured error (for example MAE).",
        )
    if (m := _PSEUDOSCIENCE.search(request)) and _PREDICTS.search(request):
        return Finding(
            "infeasible",
            f'The request rests on "{m.group(0)}", which has no measured link to what it would predict: '
            "no amount of data makes it a reliable signal, so no model can reach a stated accuracy with "
            "it. I can train a model on features that do carry the signal, if you have them.",
        )
    return None


_TASK_KINDS_NOT_TRAINED = (
    (
        "speech recognition (speech to text)",
        r"\btranscri(?:be|bes|bing|ption)\b|speech[\s-]to[\s-]text|speech recognition|"
        r"(?:audio|voicemails?|recordings?|speech|calls?) into (?:written )?(?:text|transcripts?)",
    ),
    (
        "audio classification",
        r"(?:voice|audio|sound|speech) (?:recordings?|clips?|files?|samples?)|"
        r"recordings? of (?:voices?|speech)",
    ),
    (
        "object detection or segmentation",
        r"bounding box\w*|object detection|detect (?:and locate|where)|draw boxes|"
        r"segment(?:ation|s)? (?:of )?(?:the )?(?:images?|photos?|objects?)",
    ),
    ("translation", r"translat(?:e|es|ing|ion|or|ors)\b"),
    ("summarisation", r"summari[sz](?:e|es|ing|ation|er|ers)\b"),
    (
        "text or image generation",
        r"(?:generat|writ|draft|compos)\w* (?:[\w-]+ ){0,3}"
        r"(?:text|stories|articles|essays|poems|replies|answers|images|pictures|captions|descriptions|"
        r"summar(?:y|ies)|headlines|slogans|lyrics|jokes|letters|code|photos|posters|videos|music|songs|audio|"
        r"voices|speech|artwork|logos)|chat ?bot",
    ),
    ("recommendation", r"recommend(?:s|ing|ation|ations|er)?\b"),
    (
        "clustering (no labels)",
        r"\bclusters?\b|clustering|group (?:\w+ ){0,3}into (?:\w+ )?(?:segments|clusters|groups)|"
        r"segment (?:our |the )?customers",
    ),
)


def task_kind_not_trained(request: str, trainable: tuple[TaskType, ...]) -> Finding | None:
    """Infeasible when the request asks for a kind of model this version does not train (each kind
    named, with the `trainable` task types): said plainly instead of asking for data."""
    for kind, pattern in _TASK_KINDS_NOT_TRAINED:
        if m := re.search(pattern, request, _I):
            trains = ", ".join(t.value.replace("_", " ") for t in trainable)
            return Finding(
                "infeasible",
                f'"{m.group(0)}" asks for {kind}, which this version does not train; it trains {trains}.',
            )
    return None


def unpredictable(request: str) -> Finding | None:
    """Infeasible when the target is random or the request wants a guarantee no model can give."""
    m = _CHANCE_GAMES.search(request)
    if not (m and _CHANCE_CUES.search(request)):
        m = _RANDOM_EVENTS.search(request)
    if m:
        return Finding(
            "infeasible",
            f'The request asks for the outcome of a game of chance ("{m.group(0)}"): each draw is '
            "independent of the past, so no model trained on past results can do better than chance.",
        )
    if m := _GUARANTEED_MARKET.search(request):
        return Finding(
            "infeasible",
            f'"{m.group(0)}" asks for a guarantee about market prices or returns: prices react to news '
            "that is not in any training data, so no model can promise them. I can train a model that "
            "estimates a price or a direction from your features and report its measured error.",
        )
    if m := _PERFECT_FOREVER.search(request):
        return Finding(
            "infeasible",
            f'"{m.group(0)}" asks for a model that is right on every future input: a model can only be '
            "measured on held-out data, and no measurement on finitely many examples guarantees the "
            "next one. I can train it to a measured target, such as accuracy >= 99% on held-out data.",
        )
    return None


# ---- contradictory or unreachable requirements -------------------------------------------------
def _lower_upper(reqs: list[Requirement]) -> dict[str, tuple[Requirement | None, Requirement | None]]:
    bounds: dict[str, tuple[Requirement | None, Requirement | None]] = {}
    for r in reqs:
        lo, hi = bounds.get(r.key, (None, None))
        if r.op in (">=", ">") and (lo is None or r.target > lo.target):
            lo = r
        if r.op in ("<=", "<") and (hi is None or r.target < hi.target):
            hi = r
        bounds[r.key] = (lo, hi)
    return bounds


def _below(r: Requirement, floor: float) -> bool:
    """An upper bound the floor cannot meet: `x < t` with t <= floor, `x <= t` with t < floor."""
    return r.op in ("<", "<=") and (r.target < floor or (r.op == "<" and r.target <= floor))


def contradictions(requirements: list[Requirement]) -> list[Finding]:
    """Requirements that no model in the catalog can meet, alone or together."""
    out: list[Finding] = []
    for key, (lo, hi) in _lower_upper(requirements).items():
        if lo and hi and (lo.target > hi.target or (lo.target == hi.target and "=" not in lo.op + hi.op)):
            out.append(
                Finding(
                    "infeasible",
                    f"The requirements {describe(lo)} and {describe(hi)} contradict each other: "
                    f"no value of {key} meets both.",
                    [f"Which bound on {key} did you mean?"],
                )
            )
    for r in requirements:
        higher = r.op in (">=", ">")
        if r.name in FRACTION_METRICS | {"r2"} and higher and r.target > 1.0 - 1e-9:
            relaxed = Requirement(name=r.name, op=">=", target=0.99, label=r.label, text=r.text)
            out.append(
                Finding(
                    "infeasible",
                    f"{describe(r)} means a model that is never wrong: a held-out test set can only show "
                    "how often a model is right on the examples it holds, and one mislabelled example "
                    "makes 100% unreachable.",
                    [f"Would {describe(relaxed)} on held-out data do?"],
                    [relaxed],
                )
            )
        elif r.name in ("rmse", "mae") and r.op in ("<", "<=") and r.target <= 0:
            out.append(
                Finding(
                    "infeasible",
                    f"{describe(r)} asks for no error at all, which no model reaches on held-out data.",
                    [f"What {r.name} would be good enough?"],
                )
            )
    params = [r for r in requirements if r.name == "params" and r.op in ("<", "<=")]
    for r in params:
        if _below(r, 1):
            out.append(
                Finding(
                    "infeasible",
                    f"{describe(r)} leaves no room for a model: even the smallest one has a parameter.",
                    ["How many parameters may the model have (for example under 10,000)?"],
                )
            )
        elif r.target <= TINY_PARAMS:
            near_perfect = [
                m
                for m in requirements
                if m.name in FRACTION_METRICS and m.op in (">=", ">") and NEAR_PERFECT <= m.target < 1.0
            ]
            for m in near_perfect:
                relaxed = Requirement(name=m.name, op=">=", target=0.9, label=m.label, text=m.text)
                bigger = Requirement(name="params", op="<=", target=10_000, text=r.text)
                out.append(
                    Finding(
                        "infeasible",
                        f"{describe(m)} with {describe(r)} contradict each other: with at most "
                        f"{TINY_PARAMS} parameters the catalog's models are a few shallow trees or a "
                        f"linear model over a few words, which do not reach {describe(m)} on real data.",
                        [
                            f"Would you accept {describe(relaxed)} within {describe(r)}, or "
                            f"{describe(m)} within {describe(bigger)}?"
                        ],
                        [relaxed, r],
                    )
                )
    floors = (
        (("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"), LATENCY_FLOOR_MS, 1.0, "ms"),
        (("size_bytes",), SIZE_FLOOR_BYTES, 10_000.0, "bytes"),
        (("memory_mb",), MEMORY_FLOOR_MB, 256.0, "MiB"),
    )
    why = {
        "ms": "a single call of the fastest model in the catalog (ONNX, batch 1) takes longer than that "
        "on this hardware",
        "bytes": "even the smallest exported model (a linear model over one feature) is larger than that",
        "MiB": "the service process with the ONNX runtime alone needs more memory than that",
    }
    for names, floor, proposal, unit in floors:
        for r in requirements:
            if r.name in names and _below(r, floor):
                relaxed = Requirement(name=r.name, op="<=", target=proposal, text=r.text)
                out.append(
                    Finding(
                        "infeasible",
                        f"{describe(r)} is below what any model in the catalog can reach: {why[unit]} "
                        f"(the floor is about {_fmt(floor)} {unit}).",
                        [f"Would {describe(relaxed)} do?"],
                        [relaxed],
                    )
                )
    return out


# ---- no data ------------------------------------------------------------------------------------
_NO_DATA_AT_ALL = re.compile(
    r"\b(?:(?:i|we)\s+(?:do\s+not|don'?t|dont)\s+have\s+(?:any\s+)?(?:labell?ed\s+|training\s+)?"
    r"(?:data|examples|labels)(?!\s+yet)"
    r"|(?:there\s+is|there'?s|with|have|has)\s+no\s+(?:labell?ed\s+|training\s+)?(?:data|examples|labels)"
    r"(?:\s+(?:at\s+all|and\s+(?:never|won'?t|will\s+not|can'?t|cannot)\b[^.]*))"
    r"|without\s+any\s+(?:labell?ed\s+|training\s+)?(?:data|examples|labels)\s+(?:at\s+all|ever)"
    r"|(?:can'?t|cannot|can\s+not|will\s+not|won'?t|never)\s+(?:get|collect|label|provide|obtain)\s+"
    r"(?:any\s+)?(?:labell?ed\s+|training\s+)?(?:data|examples|labels))",
    _I,
)


def no_data(request: str, task: TaskType | None = None) -> Finding:
    """No data was given: ask for it, or infeasible when the person says there is none to get."""
    if m := _NO_DATA_AT_ALL.search(request):
        return Finding(
            "infeasible",
            f'A supervised model learns from labelled examples, and the request says "{m.group(0)}": '
            "without them there is nothing to learn the target from or to measure it on.",
            ["If you can label a few hundred examples, I can start from those: can you?"],
        )
    if task == TaskType.IMAGE_CLASSIFICATION:
        where = (
            "Which labelled images should I learn from? Give a folder with one sub-folder of images per "
            "class (e.g. photos/cat/1.jpg), or a CSV with an image path column and a label column, "
            "with --data PATH."
        )
    else:
        where = (
            "Which data should I learn from? Give a file (CSV, TSV, JSONL or Parquet) with --data PATH, "
            "with one column holding the label to predict."
        )
    return Finding("ask", "A supervised model needs labelled examples, and no data was given.", [where])


# ---- vague requests -----------------------------------------------------------------------------
_TASK_WORDS = re.compile(
    r"\b(?:classif\w*|categori[sz]\w*|predict\w*|detect\w*|flag\w*|filter\w*|estimat\w*|forecast\w*|"
    r"recogni[sz]\w*|identif\w*|distinguish\w*|tell\w*\s+(?:whether|if|which|apart)|decide\w*\s+(?:whether|if)|"
    r"determin\w*|sort\w*|tag\w*|label\w*|score\w*|rate|rating|regress\w*|spam|sentiment|triage\w*|route|"
    r"moderat\w*|spot\w*|catch\w*|screen\w*|guess\w*|infer\w*|separat\w*|group\w*\s+into|"
    r"(?:whether|which)\s+(?:a|an|the|each|this|it)\b)",
    _I,
)
_METRIC_WORDS = re.compile(
    r"\b(?:accura\w*|f1|precision|recall|auc|roc|rmse|mae|mse|r2|r²|error\s+rate|errors?)\b", _I
)


def _columns_named(request: str, df: pd.DataFrame | None) -> list[str]:
    if df is None:
        return []
    named = []
    for col in df.columns:
        name = r"[_\s-]+".join(re.escape(p) for p in re.split(r"[_\s-]+", str(col).strip()) if p)
        if name and re.search(rf"(?<![\w]){name}(?![\w])", request, _I):
            named.append(str(col))
    return named


def vague(request: str, spec: TaskSpec, df: pd.DataFrame | None, label_given: bool) -> Finding | None:
    """Ask for the label and the metric when the request names no task, no column and no metric.

    A request is clear enough when it says what to do ("classify", "predict", "detect", "tell
    whether", "spam", "sentiment"), names a column of the data, comes with --label, or states a
    metric target. Otherwise ("make it good", "build me an AI") the Task agent asks.
    """
    has_metric = any(r.kind == "metric" for r in spec.requirements) or bool(_METRIC_WORDS.search(request))
    if label_given or _TASK_WORDS.search(request) or _columns_named(request, df) or has_metric:
        return None
    questions = []
    if df is not None and spec.label_column:
        questions.append(
            f"What should the model predict? I would guess column '{spec.label_column}' "
            f"(columns: {', '.join(map(str, df.columns[:12]))}{', ...' if len(df.columns) > 12 else ''}); "
            "say which, or pass --label COLUMN."
        )
    else:
        questions.append(
            "What should the model predict, and from what (for example: 'classify emails as spam')?"
        )
    questions.append(
        "How should I judge the model? Name a metric and a target, for example 'accuracy >= 0.9' or "
        "'recall on fraud >= 0.8', and any limits on size or latency."
    )
    return Finding(
        "ask",
        "The request does not say what the model should predict or how it will be judged.",
        questions,
    )


# ---- too few labels ------------------------------------------------------------------------------
def held_out_rows_needed(target: float) -> int:
    """Held-out rows needed before a target t can be told apart from perfection: ceil(1 / (1 - t))."""
    return math.ceil(1.0 / max(1e-9, 1.0 - target) - 1e-9)


def _spread(n: int, weights: dict[str, int]) -> dict[str, int]:
    """`n` split over the classes in proportion to `weights` (largest remainder, sums to n)."""
    total = sum(weights.values()) or 1
    shares = {c: n * w / total for c, w in weights.items()}
    out = {c: math.floor(v) for c, v in shares.items()}
    for c in sorted(shares, key=lambda c: shares[c] - out[c], reverse=True)[: n - sum(out.values())]:
        out[c] += 1
    return {c: k for c, k in out.items() if k}


def labels_needed(
    counts: dict[str, int],
    requirements: list[Requirement],
    test_counts: dict[str, int] | None = None,
    test_fraction: float = TEST_FRACTION,
) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """More labelled rows each class needs in the training data and in the test file, and why.

    The rule, which asks only for what no model could do without:
      1. every class needs MIN_PER_CLASS (10) labelled training rows: with fewer, a 20% held-out
         split keeps one or two of it, and neither learning nor measuring it means anything;
      2. a target t on a fraction metric (accuracy, f1, precision, recall, roc_auc) needs at
         least 1 / (1 - t) held-out rows in its scope: with fewer, a single error already falls
         below t, so the target would mean "never wrong" (which `contradictions` calls
         infeasible). Accuracy's scope is the whole test set, a per-class target's ("recall on
         fraud") that class, a macro target's (f1, precision, recall without a class; roc_auc)
         every class. With a test file the rows must be in it; else in the data, of which the
         Data agent holds out `test_fraction`, so 1 / (1 - t) / test_fraction rows.
    For example accuracy >= 0.9 needs 10 test rows (50 rows without a test file), recall on
    'fraud' >= 0.99 needs 100 'fraud' test rows (500 without a test file).

    Returns:
        ({class: more training rows}, {class: more test-file rows}, [one sentence per shortfall]).
    """
    need = {c: MIN_PER_CLASS for c in counts}
    why = []
    short = [c for c, n in counts.items() if n < MIN_PER_CLASS]
    if short:
        why.append(
            f"Every class needs at least {MIN_PER_CLASS} labelled examples to learn from and to test on; "
            + ", ".join(f"'{c}' has {counts[c]}" for c in short[:6])
            + ("." if len(short) <= 6 else f"; {len(short) - 6} more classes are short.")
        )
    have = test_counts if test_counts is not None else counts
    scale = 1.0 if test_counts is not None else 1.0 / test_fraction
    where = "in the test file" if test_counts else f"in the data ({test_fraction:.0%} is held out)"
    need_test = dict.fromkeys(have, 0)
    total_need = 0
    for r in requirements:
        if r.name not in FRACTION_METRICS or r.op not in (">=", ">") or not 0 < r.target < 1:
            continue
        rows = math.ceil(held_out_rows_needed(r.target) * scale - 1e-9)
        if r.name == "accuracy":
            if sum(have.values()) < rows:
                total_need = max(total_need, rows)
                why.append(
                    f"Measuring {describe(r)} takes at least {rows:,} labelled rows {where}, else one "
                    f"error already misses the target; there are {sum(have.values()):,}."
                )
            continue
        classes = [r.label] if r.label in have else list(have)
        lacking = [c for c in classes if have[c] < rows]
        for c in classes:
            need_test[c] = max(need_test[c], rows)
        if lacking:
            scope = f"of class '{r.label}'" if r.label in have else "of every class (a macro average)"
            why.append(
                f"Measuring {describe(r)} takes at least {rows:,} labelled rows {scope} {where}; "
                + ", ".join(f"'{c}' has {have[c]:,}" for c in lacking[:6])
                + "."
            )
    more_test = {c: need_test[c] - have[c] for c in have if need_test[c] > have[c]}
    missing_total = total_need - (sum(have.values()) + sum(more_test.values()))
    if missing_total > 0:
        for c, n in _spread(missing_total, counts).items():
            more_test[c] = more_test.get(c, 0) + n
    more = {c: need[c] - counts[c] for c in counts if need[c] > counts[c]}
    if test_counts is None:  # the held-out rows come out of the data
        for c, n in more_test.items():
            more[c] = max(more.get(c, 0), n)
        more_test = {}
    return more, more_test, why


def _amounts(more: dict[str, int]) -> str:
    detail = ", ".join(f"{n:,} of '{c}'" for c, n in sorted(more.items(), key=lambda kv: -kv[1])[:6])
    return f"about {sum(more.values()):,} more examples ({detail})"


def label_shortfall(
    spec: TaskSpec, df: pd.DataFrame, test_df: pd.DataFrame | None = None, label_given: bool = False
) -> Finding | None:
    """Ask for more labelled rows when the data cannot support the task or its targets.

    A column with about as many values as rows looks like an identifier, not a label: unless the
    person named it (`label_given`, --label), the question is which column holds the label. A
    named label column is always the label; when it has too few rows per class, the finding says
    so and asks for more rows of each class (or fewer classes), never for --label again.

    Raises:
        UserError: the label column of a classification holds a single class (bad input, as the
            Data agent also says).
    """
    if spec.label_column is None or spec.label_column not in df.columns:
        return None
    y = df[spec.label_column].dropna()
    if spec.task_type == TaskType.TABULAR_REGRESSION:
        if len(y) < MIN_ROWS_REGRESSION:
            return Finding(
                "ask",
                f"A regression needs at least {MIN_ROWS_REGRESSION} labelled rows to fit and to test on; "
                f"'{spec.label_column}' has {len(y)}.",
                [f"Can you provide about {MIN_ROWS_REGRESSION - len(y)} more labelled rows?"],
            )
        return None
    counts = {str(k): int(v) for k, v in y.astype(str).value_counts().items()}
    if len(counts) < 2:
        only = f" ('{next(iter(counts))}')" if counts else ""
        label = spec.label_column
        raise UserError(
            f"the label column '{label}' has only one class{only}; a classifier needs at least two"
        )
    too_many = len(counts) > max(50, 0.5 * len(y))
    if too_many and not label_given:
        return Finding(
            "ask",
            f"Column '{spec.label_column}' has {len(counts):,} distinct values in {len(y):,} rows: it looks "
            "like an identifier or free text, not a label to classify.",
            ["Which column holds the label? Pass --label COLUMN."],
        )
    test_counts = None
    if test_df is not None and spec.label_column in test_df.columns:
        test_y = test_df[spec.label_column].dropna().astype(str)
        test_counts = {c: int((test_y == c).sum()) for c in counts}
    more, more_test, why = labels_needed(counts, spec.requirements, test_counts)
    if not more and not more_test:
        return None
    other = "Or relax the target."
    if too_many:  # named with --label: it is the label, and the data is what falls short
        why.insert(
            0,
            f"The label column '{spec.label_column}' has {len(counts):,} classes in {len(y):,} labelled "
            f"rows ({len(y) / len(counts):.1f} per class): too few to learn or to test most classes.",
        )
        other = f"Or merge the {len(counts):,} classes into fewer."
    asks = []
    if more:
        asks.append(f"label {_amounts(more)}" + (" for the training data" if test_counts is not None else ""))
    if more_test:
        asks.append(f"add {_amounts(more_test)} to the test file")
    return Finding("ask", " ".join(why), [f"Can you {' and '.join(asks)}? {other}"])
