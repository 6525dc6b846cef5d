"""JSON in and out of the model service, safe against hostile input.

In: request bodies are parsed strictly (`strict_loads`): `NaN`, `Infinity` and `-Infinity` are
not JSON and are refused as such; an integer of hundreds of digits becomes a float (infinite, so
the predictor refuses it as a number out of range) instead of tripping Python's digit limit.
`StrictJSONRoute` makes FastAPI read bodies this way.

Out: `SafeJSONResponse` renders anything: a lone surrogate ("\\ud800") becomes U+FFFD, a
non-finite number its repr, an over-long integer or an over-deep value a short text, so an error
answer about bad input can never itself fail into a 500.

Imported by `skills.serve.service_app.create_app` only (FastAPI is heavy).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

MAX_DEPTH = 32  # deeper parts of an answer are cut (only an echo of hostile input gets there)
_SURROGATE = re.compile("[\ud800-\udfff]")
_FALLBACK = b'{"detail":"The answer could not be encoded as JSON."}'


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number; send null for a missing value", name, 0)


def _integer(text: str) -> int | float:
    return int(text) if len(text) <= 300 else float(text)  # float: inf, refused as out of range


def strict_loads(body: bytes | str) -> Any:
    """json.loads without Python's extensions (NaN, Infinity) and without the int digit limit."""
    return json.loads(body, parse_constant=_not_json, parse_int=_integer)


def clean(value: Any, depth: int = 0) -> Any:
    """`value` with everything that JSON or UTF-8 cannot carry replaced by something it can."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, int):
        return value if abs(value) < 10**300 else "an integer of over 300 digits"
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {str(clean(k, depth + 1)): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v, depth + 1) for v in value]
    return clean(str(value), depth + 1)


def safe_dumps(content: Any) -> bytes:
    """`content` as UTF-8 JSON bytes, whatever it holds (see `clean`); never raises."""
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        pass
    try:
        text = json.dumps(clean(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - the last line of defence of an error answer
        return _FALLBACK


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return safe_dumps(content)


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is read with `strict_loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
