"""The model's web service: in process with TestClient, and once for real on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from skills.deploy import measure_service, smoke_test, start_service, stop_service
from skills.errors import UserError
from skills.service_app import create_app
from tests.conftest_models import trained

REVIEWS = ["Delicious, my kids love it and I reorder every month.", "Stale and tasteless, a waste of money."]


@pytest.fixture(scope="module")
def text_model() -> str:
    return trained("fine_foods", export=True).export.onnx_path


@pytest.fixture(scope="module")
def wine_model() -> str:
    return trained("wine_mixed", export=True).export.onnx_path


def _sample(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_predict_single_and_batch(text_model):
    client = TestClient(create_app(text_model))
    one = client.post("/predict", json={"inputs": REVIEWS[:1]})
    assert one.status_code == 200
    body = one.json()
    assert body["model"]["labels"] == ["great", "other"]
    [pred] = body["predictions"]
    assert pred["label"] in ("great", "other") and set(pred["probabilities"]) == {"great", "other"}
    batch = client.post("/predict", json={"inputs": REVIEWS * 3}).json()["predictions"]
    assert len(batch) == 6 and batch[0]["label"] == pred["label"]
    assert batch[0]["probabilities"]["great"] == pytest.approx(pred["probabilities"]["great"], abs=1e-6)
    assert batch[0]["label"] == "great" and batch[1]["label"] == "other"


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"inputs": []}, "at least 1 item"),
        ({"inputs": "just a string"}, "valid list"),
        ({"texts": ["x"]}, "inputs: Field required"),
        ({"inputs": [3]}, "valid string"),
        ({"inputs": [{"body": "x"}]}, "unknown field"),
        ({"inputs": ["x"] * 1001}, "at most 1000"),
    ],
)
def test_bad_bodies_get_422_with_a_clear_message(text_model, body, fragment):
    r = TestClient(create_app(text_model)).post("/predict", json=body)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_not_json_gets_422(text_model):
    r = TestClient(create_app(text_model)).post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]


def test_metrics_health_and_docs(text_model):
    app = create_app(text_model)
    client = TestClient(app)
    for _ in range(3):
        assert client.post("/predict", json={"inputs": REVIEWS}).status_code == 200
    assert client.post("/predict", json={"inputs": []}).status_code == 422
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert _sample(text, 'trainer_agent_requests_total{endpoint="/predict",status="200"}') == 3
    assert _sample(text, 'trainer_agent_requests_total{endpoint="/predict",status="422"}') == 1
    assert _sample(text, 'trainer_agent_requests_total{endpoint="/health",status="200"}') == 1
    assert _sample(text, "trainer_agent_predictions_total") == 6
    assert _sample(text, 'trainer_agent_errors_total{kind="validation"}') == 1
    assert _sample(text, 'trainer_agent_request_seconds_count{endpoint="/predict"}') == 4
    assert _sample(text, "trainer_agent_peak_rss_bytes") > 10 * 2**20
    # a second app in the same process counts on its own
    other = TestClient(create_app(text_model)).get("/metrics").text
    assert _sample(other, 'trainer_agent_requests_total{endpoint="/predict",status="200"}') == 0


def test_openapi_describes_the_model(text_model):
    schema = TestClient(create_app(text_model)).get("/openapi.json").json()
    assert "Text classification" in schema["info"]["title"]
    assert "great, other" in schema["info"]["description"]
    examples = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    [example] = examples.values()
    assert isinstance(example["value"]["inputs"][0], str) and example["value"]["inputs"][0]


def test_api_key(text_model):
    client = TestClient(create_app(text_model, api_key="s3cret"))
    body = {"inputs": REVIEWS[:1]}
    assert client.post("/predict", json=body).status_code == 401
    wrong = client.post("/predict", json=body, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert client.post("/predict", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/health").status_code == 200  # probes need no key
    assert 'trainer_agent_errors_total{kind="auth"} 2.0' in client.get("/metrics").text


def test_tabular_records(wine_model):
    client = TestClient(create_app(wine_model))
    rows = [{"alcohol": 13.2, "cellar": "north", "proline": 1050}, {"alcohol": None}]
    r = client.post("/predict", json={"inputs": rows})
    assert r.status_code == 200
    assert [p["label"] in ("a", "b", "c") for p in r.json()["predictions"]] == [True, True]
    bad = client.post("/predict", json={"inputs": [{"alcohol": "strong"}]})
    assert bad.status_code == 422 and "'alcohol' must be a number" in bad.json()["detail"]
    assert client.post("/predict", json={"inputs": ["a text"]}).status_code == 422
    assert "`cellar` (text)" in client.get("/openapi.json").json()["info"]["description"]


def test_real_service_lifecycle(text_model, tmp_path):
    deployment = start_service(text_model, tmp_path, timeout=60)
    try:
        assert deployment.running and deployment.url.startswith("http://127.0.0.1:")
        assert deployment.docs_url == deployment.url + "/docs"
        assert deployment.metrics_url == deployment.url + "/metrics"
        state = json.loads((tmp_path / "service" / "service.json").read_text())
        assert state["pid"] == deployment.pid and state["url"] == deployment.url
        assert state["model_path"] == str(Path(text_model).resolve())

        smoke = smoke_test(deployment.url, REVIEWS)
        assert smoke["ok"], smoke
        assert smoke["predictions"] == ["great", "other"] and smoke["predict_requests_counted"] >= 1

        measured = measure_service(deployment.url, REVIEWS, seconds=1.0, concurrency=2, pid=deployment.pid)
        assert measured["errors"] == 0 and measured["qps"] > 5
        assert 0 < measured["p50_ms"] <= measured["p95_ms"]
        assert 20 < measured["memory_mb"] < 2000
        # without a pid the peak memory comes from the service's own metric
        assert measure_service(deployment.url, REVIEWS, seconds=0.3, concurrency=1)["memory_mb"] > 20
    finally:
        stopped = stop_service(tmp_path)
    assert stopped
    assert not (tmp_path / "service" / "service.json").exists()
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{deployment.pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{deployment.pid}")
    assert stop_service(tmp_path) is False


def test_start_service_needs_a_model(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        start_service(tmp_path / "missing.onnx", tmp_path)


def test_a_service_that_crashes_is_reported(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(UserError, match="exited with code"):
        start_service(broken, tmp_path, timeout=60)
    assert not (tmp_path / "service" / "service.json").exists()
