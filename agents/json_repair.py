"""Read the JSON an LLM meant to write.

Models wrap JSON in code fences, leave trailing commas, use single quotes or Python literals
(`True`, `None`), and surround it with prose. `loads_lenient` undoes those mistakes and says which
repairs it made; it never guesses at content (a missing brace stays an error).

    value, repairs = loads_lenient("Here it is: ```json\\n{'a': True,}\\n```")
    # {'a': True}, ['code fence', 'single quotes', 'Python literals', 'trailing commas']
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every ``` fenced block, in order."""
    return [(lang.lower(), body) for lang, body in _FENCE.findall(text)]


def _object_spans(text: str) -> list[str]:
    """Top-level {...} spans of `text`, string-aware, in order."""
    spans, depth, start, quote, i = [], 0, -1, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'" and depth > 0:
            quote = c
        elif c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
        i += 1
    return spans


def normalise(text: str) -> tuple[str, list[str]]:
    """Rewrite JSON-like text as JSON: quotes, Python literals and trailing commas."""
    out: list[str] = []
    repairs: set[str] = set()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    pair = text[j : j + 2]
                    buf.append("'" if pair == "\\'" else pair)
                    j += 2
                    continue
                buf.append(
                    {"\n": "\\n", "\t": "\\t", '"': '\\"'}.get(text[j], text[j]) if c == "'" else text[j]
                )
                j += 1
            if c == "'":
                repairs.add("single quotes")
            out.append('"' + "".join(buf) + '"')
            i = j + 1
        elif c == ",":
            k = i + 1
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] in "}]":
                repairs.add("trailing commas")
            else:
                out.append(c)
            i += 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in _PY_LITERALS:
                repairs.add("Python literals")
            out.append(_PY_LITERALS.get(word, word))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out), sorted(repairs)


def _candidates(text: str) -> list[tuple[str, list[str]]]:
    """Texts that may hold the JSON, most likely first, with the repair that found each."""
    found: list[tuple[str, list[str]]] = []
    for _, body in reversed(fenced_blocks(text)):
        if body.strip().startswith(("{", "[")):
            found.append((body.strip(), ["code fence"]))
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        found.append((stripped, []))
    found += [(span, ["surrounding text"]) for span in reversed(_object_spans(text))]
    return found


def loads_lenient(text: str) -> tuple[Any, list[str]]:
    """Parse the JSON value that `text` carries; return it with the repairs that were needed.

    Raises:
        ValueError: no candidate parses even after repair (the message names the first problem).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the message is empty")
    first_error: str | None = None
    for candidate, how in _candidates(text):
        try:
            return json.loads(candidate), how
        except json.JSONDecodeError as err:
            first_error = first_error or f"{err.msg} at line {err.lineno} column {err.colno}"
        fixed, repairs = normalise(candidate)
        if repairs:
            try:
                return json.loads(fixed, strict=False), how + repairs
            except json.JSONDecodeError:
                pass
    raise ValueError(f"invalid JSON ({first_error})" if first_error else "the message carries no JSON object")


def last_object(text: str) -> tuple[dict[str, Any], list[str]]:
    """Like `loads_lenient`, but the value must be a JSON object."""
    value, repairs = loads_lenient(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got a {type(value).__name__}")
    return value, repairs
