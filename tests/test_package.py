"""The service's Docker image: built on the sandbox image by the real engine, it serves the model
with the same labels as onnxruntime offline, probes and metrics work, and SIGTERM stops it cleanly.
Skips only when no Docker engine answers (fails then with TRAINER_AGENT_REQUIRE_DOCKER=1)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest_models import as_run, trained
from tests.sandbox_conftest_helpers import require_docker
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.serve.package import BASE_IMAGE, build_image, image_tag, run_image, write_dockerfile

REVIEWS = ["Delicious, my kids love it and I reorder every month.", "Stale and tasteless, a waste of money."]


def test_dockerfile_names_the_model_version(tmp_path):
    run = as_run(trained("fine_foods", export=True), tmp_path / "20261122-000708-ABC")
    path, tag = write_dockerfile(run)
    version = OnnxPredictor(run / "exports" / "model.onnx").version
    assert tag == image_tag(run, version) == f"trainer-agent-service-20261122-000708-abc:{version}"
    text = path.read_text()
    assert path == run / "service" / "Dockerfile"
    assert f"ARG BASE_IMAGE={BASE_IMAGE}" in text and "USER 1000:1000" in text
    assert "COPY model.onnx /opt/model/model.onnx" in text and '"--host", "0.0.0.0"' in text


@pytest.mark.docker
@pytest.mark.slow
def test_image_builds_and_serves(tmp_path):
    client = require_docker(BASE_IMAGE)
    run = as_run(trained("fine_foods", export=True), tmp_path / "pkg-run")
    info = build_image(run, client=client)
    container = None
    try:
        assert info["image"].startswith("trainer-agent-service-pkg-run:")
        assert info["size_bytes"] > 10**8 and info["build_s"] > 0
        image = client.images.get(info["image"])
        assert image.labels["org.trainer-agent.model-version"] == info["image"].split(":")[1]
        container, url = run_image(info["image"], client=client, memory_mb=512)
        served = httpx.post(f"{url}/predict", json={"inputs": REVIEWS}, timeout=30).json()
        offline = OnnxPredictor(run / "exports" / "model.onnx").predict(REVIEWS)
        assert (
            [p["label"] for p in served["predictions"]] == [p["label"] for p in offline] == ["great", "other"]
        )
        assert httpx.get(f"{url}/ready").json()["model"]["version"] == served["model"]["version"]
        assert httpx.post(f"{url}/predict", json={"inputs": [1]}).status_code == 422
        assert 'status="200"} 1.0' in httpx.get(f"{url}/metrics").text
        container.stop(timeout=20)  # SIGTERM: graceful shutdown, exit code 0
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0
        logs = container.logs().decode()
        assert '"event": "stopped"' in logs and '"event": "request"' in logs
        print(f"\nimage {info['image']}: {info['size_bytes'] / 1e9:.2f} GB, built in {info['build_s']} s")
    finally:
        if container is not None:
            container.remove(force=True)
        client.images.remove(info["image"], force=True)
