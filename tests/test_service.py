"""The model's web service: in process with TestClient, and once for real on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest_models import trained
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.serve.deploy import (
    measure_service,
    service_status,
    smoke_test,
    start_service,
    stop_service,
)
from trainer_agent.skills.serve.service_app import create_app

REVIEWS = ["Delicious, my kids love it and I reorder every month.", "Stale and tasteless, a waste of money."]


@pytest.fixture(scope="module")
def text_model() -> str:
    return trained("fine_foods", export=True).export.onnx_path


@pytest.fixture(scope="module")
def wine_model() -> str:
    return trained("wine_mixed", export=True).export.onnx_path


def _is_service(pid: int) -> bool:
    try:
        return b"trainer_agent.skills.serve.service_app" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


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
    while _is_service(deployment.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _is_service(deployment.pid)  # gone (its pid may be reused by another process)
    assert stop_service(tmp_path) is False


def test_a_record_made_before_the_spawn_that_never_happened_names_no_service(tmp_path):
    """service.json is written before the spawn (pid still null); a kill -9 right then leaves it
    with no process: status says so, stop finds nothing and clears it."""
    (tmp_path / "service").mkdir()
    record = {"pid": None, "pgid": None, "port": 1, "model_path": str(tmp_path / "m.onnx"), "ready": False}
    (tmp_path / "service" / "service.json").write_text(json.dumps(record))
    status = service_status(tmp_path)
    assert status["running"] is False and status["reason"] == "its process was never started"
    assert stop_service(tmp_path) is False
    assert not (tmp_path / "service" / "service.json").exists()


def test_start_service_needs_a_model(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        start_service(tmp_path / "missing.onnx", tmp_path)


def test_a_service_that_crashes_is_reported(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(UserError, match="exited with code"):
        start_service(broken, tmp_path, timeout=60)
    assert not (tmp_path / "service" / "service.json").exists()


def test_ready_version_and_shutdown_state(text_model):
    app = create_app(text_model)
    client = TestClient(app)
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    version = ready.json()["model"]["version"]
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    assert client.get("/openapi.json").json()["info"]["version"] == version
    metrics = client.get("/metrics").text
    family = trained("fine_foods", export=True).train.family  # the default search's choice
    labels = f'family="{family}",task_type="text_classification",version="{version}"'
    assert f"trainer_agent_model_info{{{labels}}} 1.0" in metrics
    assert _sample(metrics, "trainer_agent_ready") == 1
    app.state.service["ready"] = False  # what SIGTERM does first
    assert client.get("/ready").status_code == 503
    assert client.post("/predict", json={"inputs": REVIEWS}).status_code == 503
    assert client.get("/health").status_code == 200  # alive while draining
    assert _sample(client.get("/metrics").text, "trainer_agent_ready") == 0


def test_size_limits_and_request_ids(text_model):
    from trainer_agent.skills.serve.service_app import MAX_BODY_BYTES, MAX_TEXT_CHARS

    client = TestClient(create_app(text_model))
    long_text = client.post("/predict", json={"inputs": ["x" * (MAX_TEXT_CHARS + 1)]})
    assert long_text.status_code == 422 and "at most 20000 characters" in long_text.json()["detail"]
    big = b'{"inputs": ["' + b"y" * MAX_BODY_BYTES + b'"]}'
    declared = client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "4 MiB" in declared.json()["detail"]

    def chunks():  # no content-length: the limit is enforced while reading
        yield b'{"inputs": ["'
        for _ in range(5):
            yield b"z" * 2**20
        yield b'"]}'

    streamed = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert 'trainer_agent_errors_total{kind="too_large"} 2.0' in client.get("/metrics").text
    r = client.post("/predict", json={"inputs": REVIEWS[:1]}, headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 16


def test_json_log_lines(text_model, caplog):
    import logging

    from trainer_agent.skills.serve.service_app import LOGGER, JsonFormatter

    client = TestClient(create_app(text_model))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.post("/predict", json={"inputs": REVIEWS}, headers={"x-request-id": "req-1"})
        client.post("/predict", json={"inputs": []})
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.getMessage() == "request"]
    assert [(x["path"], x["status"], x["request_id"]) for x in lines][:1] == [("/predict", 200, "req-1")]
    assert lines[1]["status"] == 422 and lines[1]["level"] == "info" and lines[1]["ms"] > 0
    assert lines[0]["ts"].endswith("Z")


def test_graceful_shutdown_finishes_the_request_in_flight(text_model, tmp_path):
    import signal
    import threading

    import httpx

    from trainer_agent.skills.serve.deploy import _alive

    deployment = start_service(text_model, tmp_path, timeout=60)
    batch = {"inputs": [(REVIEWS[0] + " ") * 60] * 1000}  # ~3.4 MB; a worker thread predicts it
    answer: dict = {}

    def send() -> None:
        answer["r"] = httpx.post(deployment.url + "/predict", json=batch, timeout=60)

    sender = threading.Thread(target=send)
    try:
        sender.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the big request is being served
            metrics = httpx.get(deployment.url + "/metrics").text
            if _sample(metrics, "trainer_agent_in_flight_requests") >= 2 or "r" in answer:
                break
            time.sleep(0.005)
        assert "r" not in answer, "the request finished before SIGTERM could be sent"
        os.kill(deployment.pid, signal.SIGTERM)
        sender.join(30)
        assert answer["r"].status_code == 200 and len(answer["r"].json()["predictions"]) == 1000
        deadline = time.monotonic() + 15
        while _alive(deployment.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(deployment.pid)
        events = [
            json.loads(line) for line in (tmp_path / "service" / "service.log").read_text().splitlines()[1:]
        ]
        kinds = [e.get("event") for e in events]
        assert kinds.index("signal") < kinds.index("stopped")
        assert events[-1]["message"].startswith("Finished server process")
    finally:
        stop_service(tmp_path)
