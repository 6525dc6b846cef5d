"""Kubernetes manifests for the model service, sized by the estimate (`skills.serve.sizing`).

    path = write_manifests(run_dir / "service", name="fine-foods", image="trainer-agent-service:abc",
                           estimate=est, version="3f2a...")
    problems = check_manifests(path)   # [] when they hold together

One file, service/k8s.yaml: a Deployment (replicas and CPU/memory from the estimate; readiness on
/ready, liveness on /health, a startup probe; non-root, read-only root, graceful termination), a
Service (port 80 -> 8000) and a HorizontalPodAutoscaler (autoscaling/v2, CPU at the estimate's
headroom, from the estimated replicas up to twice as many). Apply: kubectl apply -f k8s.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PORT = 8000
API_KEY_SECRET_KEY = "api-key"


def dns_name(text: str, limit: int = 50) -> str:
    """A DNS-1123 label from `text`: lower case, digits and '-', starting with a letter."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = "m-" + name
    return name[:limit].rstrip("-")


def manifests(name: str, image: str, estimate: dict[str, Any], version: str = "") -> list[dict[str, Any]]:
    """The Deployment, Service and HorizontalPodAutoscaler as plain dicts."""
    name = dns_name(name)
    replicas = int(estimate.get("replicas") or 1)
    cpu = estimate.get("cpu_per_replica") or 1.0
    memory_request = int(estimate.get("memory_request_mb") or 256)
    memory_limit = max(int(estimate.get("memory_limit_mb") or memory_request), memory_request)
    headroom = float(estimate.get("headroom") or 0.7)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "trainer-agent"}
    if version:
        labels["app.kubernetes.io/version"] = dns_name(version, 63)
    selector = {"app.kubernetes.io/name": name}
    http_get = {"port": "http"}
    container = {
        "name": "model",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": [
            {
                "name": "TRAINER_AGENT_API_KEY",
                "valueFrom": {
                    "secretKeyRef": {"name": f"{name}-api-key", "key": API_KEY_SECRET_KEY, "optional": True}
                },
            }
        ],
        "resources": {
            "requests": {"cpu": f"{cpu:g}", "memory": f"{memory_request}Mi"},
            "limits": {"cpu": f"{cpu:g}", "memory": f"{memory_limit}Mi"},
        },
        "startupProbe": {
            "httpGet": {**http_get, "path": "/ready"},
            "periodSeconds": 2,
            "failureThreshold": 30,
        },
        "readinessProbe": {
            "httpGet": {**http_get, "path": "/ready"},
            "periodSeconds": 5,
            "failureThreshold": 2,
        },
        "livenessProbe": {
            "httpGet": {**http_get, "path": "/health"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        # Endpoints are removed while the pod sleeps; then SIGTERM drains requests in flight.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000},
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas,
            "maxReplicas": max(2 * replicas, replicas + 2),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": int(round(headroom * 100))},
                    },
                }
            ],
        },
    }
    return [deployment, service, hpa]


def write_manifests(
    svc_dir: str | Path, name: str, image: str, estimate: dict[str, Any], version: str = ""
) -> Path:
    """Write svc_dir/k8s.yaml (three documents) and return its path."""
    import yaml

    folder = Path(svc_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "k8s.yaml"
    head = (
        f"# trainer-agent: {estimate.get('summary', '')}\n"
        f"# sizing rule: {estimate.get('rule', '')}\n"
        "# apply: kubectl apply -f k8s.yaml   (API key, optional: kubectl create secret generic "
        f"{dns_name(name)}-api-key --from-literal={API_KEY_SECRET_KEY}=...)\n"
    )

    class NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    docs = manifests(name, image, estimate, version)
    path.write_text(head + yaml.dump_all(docs, Dumper=NoAliases, sort_keys=False))
    return path


def check_manifests(path: str | Path) -> list[str]:
    """Structural checks that a schema cannot make: the Deployment's selector matches its pods,
    the Service selects them and targets a declared port, the HPA scales this Deployment, the
    probes hit /health and /ready, and every container has CPU and memory requests and limits."""
    import yaml

    docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    by_kind = {d.get("kind"): d for d in docs}
    problems = [
        f"missing {k}" for k in ("Deployment", "Service", "HorizontalPodAutoscaler") if k not in by_kind
    ]
    if problems:
        return problems
    dep, svc, hpa = by_kind["Deployment"], by_kind["Service"], by_kind["HorizontalPodAutoscaler"]
    pod_labels = dep["spec"]["template"]["metadata"].get("labels", {})
    match = dep["spec"]["selector"].get("matchLabels", {})
    if any(pod_labels.get(k) != v for k, v in match.items()):
        problems.append("the Deployment's selector does not match its pod labels")
    if any(pod_labels.get(k) != v for k, v in svc["spec"].get("selector", {}).items()):
        problems.append("the Service's selector does not match the pods")
    containers = dep["spec"]["template"]["spec"]["containers"]
    ports = {p.get("name") for c in containers for p in c.get("ports", [])}
    ports |= {p.get("containerPort") for c in containers for p in c.get("ports", [])}
    for p in svc["spec"].get("ports", []):
        if p.get("targetPort") not in ports:
            problems.append(f"the Service targets port {p.get('targetPort')!r}, which no container declares")
    ref = hpa["spec"]["scaleTargetRef"]
    if (ref.get("kind"), ref.get("name")) != ("Deployment", dep["metadata"]["name"]):
        problems.append("the HorizontalPodAutoscaler does not scale this Deployment")
    if hpa["spec"]["minReplicas"] > hpa["spec"]["maxReplicas"]:
        problems.append("the HorizontalPodAutoscaler's minReplicas is above its maxReplicas")
    for c in containers:
        for probe, want in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
            if c.get(probe, {}).get("httpGet", {}).get("path") != want:
                problems.append(f"container {c['name']}: {probe} should GET {want}")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for what in ("cpu", "memory"):
                if what not in res.get(part, {}):
                    problems.append(f"container {c['name']}: no {what} {part[:-1]}")
    return problems


def validate_schema(path: str | Path, k8s_version: str = "1.30") -> list[str]:
    """Strict schema validation of every document against Kubernetes `k8s_version`'s OpenAPI
    schemas (the `kubernetes-validate` package, a dev dependency); unknown fields are errors."""
    import kubernetes_validate
    import yaml

    problems = []
    for doc in yaml.safe_load_all(Path(path).read_text()):
        if not doc:
            continue
        try:
            kubernetes_validate.validate(doc, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = "/".join(str(p) for p in err.path)
            problems.append(f"{doc.get('kind')}: {where}: {err.message}")
    return problems
