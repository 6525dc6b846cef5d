"""A small phrase-pattern language for the Task agent's deterministic judgements (ethics, feasibility).

A phrase pattern is a regular expression with three conveniences, so that a policy file stays
readable:

- a space matches any run of non-word characters (spaces, hyphens, apostrophes, punctuation), and
  a space followed by `?` ("deep ?fakes") matches such a run or nothing ("deepfakes");
- `<name>` stands for the alternation `terms[name]` (itself written in the same language);
- `<wN>` (N a number, written between spaces) skips up to N intervening words, but never a
  *guard* word (`terms["guard"]`: detect, classify, filter, ...). That is what keeps "write
  phishing emails" apart from "build a classifier that flags phishing emails": the skip cannot
  cross "classifier" or "flags". `<aN>` skips up to N words of any kind.

Matching ignores case, and a pattern only matches whole words at its ends.

    >>> terms = {"make": "write|generate", "guard": "detect\\\\w*|classif\\\\w*"}
    >>> p = compile_phrase("<make> <w4> phishing", terms)
    >>> bool(p.search("Write convincing phishing emails")), bool(p.search("write a detector for phishing"))
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_GAP = re.compile(r"\s*<([wa]\d+)>\s*")
_TERM = re.compile(r"<([a-z_]+)>")
_SPACE = r"[\W_]+"


def _spaces(pattern: str) -> str:
    """Spaces to separators; an optional space (" ?", as in "deep ?fakes") to an optional separator."""
    optional = re.sub(r"\s+\?", lambda _: _SPACE.replace("+", "*"), pattern.strip())
    return re.sub(r"\s+", lambda _: _SPACE, optional)


def compile_phrase(pattern: str, terms: Mapping[str, str]) -> re.Pattern[str]:
    """Compile one phrase pattern against `terms` (see the module docstring).

    Raises:
        KeyError: the pattern names a term that `terms` does not define.
        ValueError: terms refer to each other in a loop.
        re.error: the pattern is not a valid regular expression.
    """
    guard = _expand(terms["guard"], terms, r"[\w'’]+", 0) if "guard" in terms else r"(?!)"
    word = rf"(?!(?:{guard})(?![\w]))[\w'’]+"
    return re.compile(rf"(?<![\w])(?:{_expand(pattern, terms, word, 0)})(?![\w])", re.IGNORECASE)


def _expand(text: str, terms: Mapping[str, str], word: str, depth: int) -> str:
    """Gaps to word skips, spaces to separators, `<name>` to its term (terms nest 5 levels deep)."""
    if depth > 5:
        raise ValueError(f"terms nest too deeply (a term refers to itself?): {text[:60]}")
    parts = _GAP.split(text.strip())  # text, gap, text, gap, ..., text
    any_word = r"[\w'’]+"
    return "".join(
        rf"(?:{_SPACE}{word if part[0] == 'w' else any_word}){{0,{int(part[1:])}}}?{_SPACE}"
        if i % 2
        else _TERM.sub(lambda m: f"(?:{_expand(terms[m.group(1)], terms, word, depth + 1)})", _spaces(part))
        for i, part in enumerate(parts)
    )
