"""Kubernetes manifests: sized by the estimate, consistent with each other, and valid against the
Kubernetes 1.30 OpenAPI schemas (strict: unknown fields are errors). `kubectl apply --dry-run`
needs an API server for discovery, which this machine does not have; the schemas stand in."""

from __future__ import annotations

import pytest
import yaml

from trainer_agent.skills.serve.k8s import (
    check_manifests,
    dns_name,
    manifests,
    validate_schema,
    write_manifests,
)
from trainer_agent.skills.serve.sizing import estimate

CAPACITY = {
    "levels": [{"qps": 20.0, "p95_ms": 40.0}, {"qps": 30.0, "p95_ms": 90.0}],
    "capacity_qps": 30.0,
    "memory_mb": 300.0,
}


@pytest.fixture
def written(tmp_path):
    est = estimate(CAPACITY, target_qps=100, memory_limit_mb=2048)
    return est, write_manifests(
        tmp_path, "Run 2026/Fine Foods", "trainer-agent-service-x:abc", est, "5e49d13dfe23"
    )


def test_manifests_follow_the_estimate(written):
    est, path = written
    text = path.read_text()
    assert text.startswith("# trainer-agent: at least 5 replicas") and "&id" not in text
    dep, svc, hpa = yaml.safe_load_all(text)
    assert (dep["kind"], svc["kind"], hpa["kind"]) == ("Deployment", "Service", "HorizontalPodAutoscaler")
    assert dep["metadata"]["name"] == "run-2026-fine-foods" == hpa["spec"]["scaleTargetRef"]["name"]
    assert dep["spec"]["replicas"] == est["replicas"] == 5 == hpa["spec"]["minReplicas"]
    assert hpa["spec"]["maxReplicas"] == 10
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    [container] = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "trainer-agent-service-x:abc"
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "384Mi"},
        "limits": {"cpu": "1", "memory": "2048Mi"},
    }
    assert container["readinessProbe"]["httpGet"] == {"port": "http", "path": "/ready"}
    assert container["livenessProbe"]["httpGet"] == {"port": "http", "path": "/health"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_manifests_are_valid_kubernetes(written):
    _, path = written
    assert validate_schema(path) == []
    assert check_manifests(path) == []


def test_broken_manifests_are_caught(tmp_path):
    docs = manifests("m", "img:1", {"replicas": 2})
    docs[0]["spec"]["replicas"] = "two"
    docs[0]["spec"]["template"]["metadata"]["labels"] = {"app.kubernetes.io/name": "other"}
    docs[1]["spec"]["ports"][0]["targetPort"] = "metrics"
    docs[2]["spec"]["scaleTargetRef"]["name"] = "someone-else"
    del docs[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    assert any("spec/replicas" in p and "integer" in p for p in validate_schema(path))
    problems = check_manifests(path)
    assert "the Deployment's selector does not match its pod labels" in problems
    assert "the Service's selector does not match the pods" in problems
    assert any("'metrics'" in p for p in problems)
    assert "the HorizontalPodAutoscaler does not scale this Deployment" in problems
    assert "container model: no memory limit" in problems


def test_dns_names():
    assert dns_name("20261122-000708-7aa20e-model") == "m-20261122-000708-7aa20e-model"
    assert dns_name("A_b  C!") == "a-b-c"
    assert len(dns_name("x" * 100)) == 50
