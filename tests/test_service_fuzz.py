"""Property: whatever body is posted to /predict, the service answers below 500, in JSON.

Hypothesis generates 2,000 bodies per model kind (text, tabular): mostly `{"inputs": [...]}`
with records keyed by the model's real columns, holding hostile values (NaN, Infinity, 1e309,
integers of thousands of digits, lone surrogates, nested lists and objects, wrong types), and
sometimes any JSON at all; written with Python's JSON extensions, sometimes as invalid UTF-8.
The apps run in process (over ASGI), so 4,000 requests take well under a minute.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

hypothesis = pytest.importorskip(
    "hypothesis",
    reason="hypothesis is not installed (the property test needs it: pip install 'hypothesis>=6.100')",
)
import httpx  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.conftest_models import trained  # noqa: E402
from trainer_agent.skills.serve.service_app import create_app  # noqa: E402
from trainer_agent.skills.serve.service_json import strict_loads  # noqa: E402

EXAMPLES = 2000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same bodies on every run: a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


class Raw(str):
    """A JSON token written as is: a number literal JSON cannot hold in a double, or not JSON."""


RAW = st.sampled_from(
    [Raw(x) for x in ("NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e39", "-0.0", "1e-400",
                      "1" + "0" * 400, "9" * 5000, "3.4028235e38", "-3.4028236e38")]
)  # fmt: skip
CHARS = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),  # lone surrogates
)
TEXT = st.text(CHARS, max_size=12)
LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), TEXT, RAW
)
ANY_JSON = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)


def dump(value: Any, ascii: bool = True) -> str:
    """JSON text of `value`, Python-style: NaN and Infinity literals, Raw tokens as they are, and
    strings with \\uXXXX escapes (`ascii`) or their characters, lone surrogates included."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k), ensure_ascii=ascii)}: {dump(v, ascii)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v, ascii) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii)  # floats as NaN / Infinity


def bodies(keys: list[str]) -> st.SearchStrategy[bytes]:
    """Request bodies: mostly {"inputs": [...]} of records over `keys` (plus strangers) and texts."""
    key = st.one_of(st.sampled_from(keys), TEXT)
    record = st.dictionaries(key, ANY_JSON, max_size=len(keys) + 2)
    item = st.one_of(record, TEXT, ANY_JSON)
    inputs = st.lists(item, max_size=4)
    body = st.one_of(
        st.builds(lambda xs: {"inputs": xs}, inputs),
        st.builds(
            lambda xs, extra: {"inputs": xs, **extra}, inputs, st.dictionaries(TEXT, ANY_JSON, max_size=2)
        ),
        ANY_JSON,
    )

    def encode(value: Any, escaped: bool) -> bytes:  # unescaped lone surrogates: invalid UTF-8
        return dump(value, ascii=escaped).encode("utf-8", errors="surrogatepass")

    return st.builds(encode, body, st.booleans())


class Client:
    """POST to the app in process over ASGI (httpx, one event loop): ~0.5 ms a request, where
    TestClient's thread hand-over costs ~5 ms. A 500 comes back as a 500, not as an exception."""

    def __init__(self, app: Any) -> None:
        self.runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://service")

    def post(self, body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return self.runner.run(self.client.post("/predict", content=body, headers=headers))

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.close()


def _check(client: Client, body: bytes) -> None:
    r = client.post(body)
    assert r.status_code < 500, (body[:300], r.status_code, r.content[:300])
    answer = json.loads(r.content.decode("utf-8"))  # JSON, strict UTF-8
    if r.status_code >= 400:
        assert isinstance(answer["detail"], str) and answer["detail"]
    else:
        assert len(answer["predictions"]) == len(strict_loads(body)["inputs"])


@pytest.fixture(scope="module")
def service() -> Any:
    clients: list[Client] = []

    def start(kind: str) -> tuple[Client, list[str]]:
        app = create_app(trained(kind, export=True).export.onnx_path)
        clients.append(Client(app))
        keys = [i["column"] for i in app.state.predictor.inputs]
        return clients[-1], keys + ["text"] if app.state.predictor.is_text else keys

    yield start
    for client in clients:
        client.close()


@pytest.mark.parametrize("kind", ["fine_foods", "wine_mixed"])  # a text model, a tabular one
def test_predict_never_answers_5xx(service: Any, kind: str) -> None:
    client, keys = service(kind)

    posted = []

    @FUZZ
    @given(bodies(keys))
    def property(body: bytes) -> None:
        posted.append(len(body))
        _check(client, body)

    property()
    assert len(posted) >= EXAMPLES
