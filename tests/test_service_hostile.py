"""Hostile bodies get a 4xx JSON answer with one clear sentence, never a 5xx: NaN and Infinity
literals, numbers beyond float32 or of thousands of digits, lone surrogates, wrong types and
shapes. And the error answer itself cannot fail (skills/serve/service_json.py)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest_models import trained
from trainer_agent.skills.serve.service_app import create_app
from trainer_agent.skills.serve.service_json import clean, safe_dumps, strict_loads

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def text_client() -> TestClient:
    return TestClient(
        create_app(trained("fine_foods", export=True).export.onnx_path), raise_server_exceptions=False
    )


@pytest.fixture(scope="module")
def wine_client() -> TestClient:
    return TestClient(
        create_app(trained("wine_mixed", export=True).export.onnx_path), raise_server_exceptions=False
    )


@pytest.fixture(scope="module")
def regression_client() -> TestClient:
    return TestClient(
        create_app(trained("diabetes", export=True).export.onnx_path), raise_server_exceptions=False
    )


def _post(client: TestClient, raw: str | bytes) -> tuple[int, dict]:
    body = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    r = client.post("/predict", content=body, headers=JSON)
    answer = json.loads(r.content.decode("utf-8"))  # strict UTF-8: no lone surrogate in the answer
    return r.status_code, answer


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (
            '{"inputs": ["\\ud800"]}',
            "inputs.0.constrained-str: Input should be a valid string, unable to parse raw data as a "
            "unicode string",
        ),
        ('{"inputs": ["ok", {"review": "x\\udfff"}]}', "Input 1, field 'review', is not valid Unicode"),
        ('{"inputs": [{"\\ud800": "x"}]}', "Input 0 has unknown field(s) ['\\ud800']"),
        ('{"inputs": [NaN]}', "not valid JSON (NaN is not a JSON number; send null for a missing value)"),
        ('{"inputs": [1e309]}', "valid string"),
        ('{"inputs": [["a", "b"]]}', "valid string"),
        ('{"inputs": [' + "[" * 5000 + "]" * 5000 + "]}", ""),
        ("[" * 100_000, ""),
        (b'{"inputs": ["\xff\xfe"]}', ""),
        ('{"inputs": {"0": "x"}}', "valid list"),
        ("null", ""),
    ],
)
def test_hostile_text_bodies_get_a_4xx_sentence(
    text_client: TestClient, raw: str | bytes, fragment: str
) -> None:
    status, answer = _post(text_client, raw)
    assert 400 <= status < 500, answer
    assert isinstance(answer["detail"], str) and fragment in answer["detail"]


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("1e309", "Input 0, column 'alcohol' must be a finite number within ±3.4e38, got inf"),
        ("-1e309", "must be a finite number within ±3.4e38, got -inf"),
        ("1e39", "must be a finite number within ±3.4e38, got 1e+39"),
        ("1" + "0" * 400, "must be a finite number within ±3.4e38, got inf"),
        ("9" * 5000, "must be a finite number within ±3.4e38, got inf"),
        ('"strong"', "Input 0, column 'alcohol' must be a number, got 'strong'"),
        ("[1, 2]", "must be a number, got [1, 2]"),
        ('{"a": ' * 200 + "1" + "}" * 200, "must be a number, got {'a': {'a': {...}}}"),
        ('"' + "x" * 100_000 + '"', "must be a number, got 'xxxxxxxxxx"),
    ],
)
def test_hostile_numbers_get_a_4xx_sentence(wine_client: TestClient, value: str, fragment: str) -> None:
    status, answer = _post(wine_client, '{"inputs": [{"alcohol": ' + value + ', "cellar": "north"}]}')
    assert status == 422, answer
    assert fragment in answer["detail"] and len(answer["detail"]) < 1000


def test_hostile_text_columns_and_keys_get_a_4xx_sentence(wine_client: TestClient) -> None:
    status, answer = _post(wine_client, '{"inputs": [{"alcohol": 13.1, "cellar": "\\udc80north"}]}')
    assert status == 422 and "Input 0, column 'cellar' is not valid Unicode text" in answer["detail"]
    status, answer = _post(wine_client, '{"inputs": [{"alcohol": 13.1, "\\ud800": 1}]}')
    assert status == 422 and "unknown column(s) ['\\ud800']" in answer["detail"]
    status, answer = _post(wine_client, '{"inputs": [{"alcohol": 13.1}], "other": NaN}')
    assert status == 422 and "NaN is not a JSON number" in answer["detail"]
    ok, answer = _post(wine_client, '{"inputs": [{"alcohol": 1e6, "cellar": null}, {"alcohol": -0.0}]}')
    assert ok == 200 and len(answer["predictions"]) == 2
    extreme = '{"inputs": [{"alcohol": 1}, {"alcohol": 3.0e38, "proline": -3.0e38}]}'
    status, answer = _post(wine_client, extreme)
    assert status == 200 or "Input 1 is too far outside the data the model" in answer["detail"], answer


def test_an_output_that_is_not_finite_is_a_4xx(regression_client: TestClient) -> None:
    """A linear model fed numbers near float32's limit overflows; that is the input's fault."""
    columns = [i["column"] for i in regression_client.get("/").json()["model"]["inputs"]]
    row = dict.fromkeys(columns, 3.0e38)
    status, answer = _post(regression_client, json.dumps({"inputs": [{columns[0]: 0.1}, row]}))
    if status == 200:  # a model whose output stays finite there (trees) is fine too
        assert all(isinstance(p["value"], float) for p in answer["predictions"])
    else:
        assert status == 422, answer
        assert "Input 1 is too far outside the data the model was trained on" in answer["detail"]


def test_the_error_answer_cannot_fail() -> None:
    nasty = {"detail": "bad \ud800 input", "n": [float("nan"), float("inf"), 10**5000], "k": {"\udfff": 1}}
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    nasty["deep"] = deep
    decoded = json.loads(safe_dumps(nasty).decode("utf-8"))
    assert decoded["detail"] == "bad \ufffd input" and decoded["k"] == {"\ufffd": 1}
    assert decoded["n"] == ["nan", "inf", "an integer of over 300 digits"]
    assert json.dumps(decoded["deep"]).count("[") <= 33
    assert safe_dumps({"ok": 1.5}) == b'{"ok":1.5}'
    assert clean(object()).startswith("<object object")


def test_strict_loads() -> None:
    assert strict_loads('{"a": [1, 2.5, null, "\\ud800"]}') == {"a": [1, 2.5, None, "\ud800"]}
    assert strict_loads("1" + "0" * 400) == float("inf")
    for literal in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(json.JSONDecodeError, match=f"{literal} is not a JSON number"):
            strict_loads(f"[{literal}]")
