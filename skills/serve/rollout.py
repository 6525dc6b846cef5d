"""The Server agent's deploy step: stand the service up, check it, measure one replica, size the
deployment, verify the sizing with a load test, and write the documents and manifests.

    d = deploy_model("runs/<id>/exports/model.onnx", "runs/<id>", examples, spec.requirements)
    d.estimate["summary"], d.load_test["achieved_qps"], d.artifacts["api_md"]

The service runs pinned to one CPU (one replica's share, as the estimate and the Kubernetes
manifests assume) with one onnxruntime thread, while the measuring client runs on the other CPUs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainer_agent.skills.export.benchmark import service_capacity
from trainer_agent.skills.serve.api_docs import write_api_docs
from trainer_agent.skills.serve.deploy import smoke_test, start_service, stop_service
from trainer_agent.skills.serve.k8s import write_manifests
from trainer_agent.skills.serve.loadtest import load_test
from trainer_agent.skills.serve.package import write_dockerfile
from trainer_agent.skills.serve.sizing import estimate, estimate_error, targets_from
from trainer_agent.skills.specs import Deployment, Requirement

CAPACITY_LEVELS = (1, 4)


def replica_cpu() -> str | None:
    """The CPU one replica is pinned to: the last one this process may use, when there are two or
    more (the client keeps the others); None on a single CPU or where affinity is unsupported."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return str(cpus[-1]) if len(cpus) >= 2 else None


@contextlib.contextmanager
def client_off(cpu: str | None) -> Iterator[None]:
    """Keep the calling thread (and the threads it starts) off `cpu` while measuring."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, before - {int(cpu)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _post(url: str, body: dict[str, Any], api_key: str | None) -> dict[str, Any]:
    """The service's JSON answer to `body` (a real example for API.md, success or error)."""
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    answer: dict[str, Any] = httpx.post(f"{url}/predict", json=body, headers=headers, timeout=10.0).json()
    return answer


def _service_example(openapi: dict[str, Any]) -> Any:
    """The example input the service shows in its OpenAPI document (`skills.serve.examples`: of the
    model's shape and types, made up)."""
    body = openapi["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    return body["examples"]["one"]["value"]["inputs"][0]


def deploy_model(
    onnx_path: str | Path,
    run_dir: str | Path,
    examples: list[Any],
    requirements: list[Requirement] | None = None,
    keep_running: bool = False,
    load_seconds: float = 5.0,
    capacity_seconds: float = 1.5,
    api_key: str | None = None,
    export: dict[str, Any] | None = None,
    replicas: int | None = None,
) -> Deployment:
    """Start the service for `onnx_path`, smoke-test it, measure one replica, estimate replicas
    for the requirements (qps, latency_p95_ms, memory_mb), load-test one replica at its planned
    rate for `load_seconds`, and write service/API.md, openapi.json, k8s.yaml and Dockerfile.
    The service is stopped at the end unless `keep_running`. `export`: the ExportResult as a
    dict, for the in-process numbers in API.md. `replicas`: the Server agent's choice instead of
    the sized number (`skills.serve.sizing.estimate`)."""
    import httpx

    run = Path(run_dir)
    cpu = replica_cpu()
    deployment = start_service(onnx_path, run, cpus=cpu, threads=1, api_key=api_key)
    url = deployment.url
    try:
        deployment.smoke = smoke_test(url, examples[:3], api_key=api_key)
        with client_off(cpu):
            capacity = service_capacity(
                url,
                examples,
                concurrency=CAPACITY_LEVELS,
                seconds=capacity_seconds,
                pid=deployment.pid,
                api_key=api_key,
            )
            wants = targets_from(requirements or [])
            est = estimate(
                capacity,
                wants["target_qps"],
                wants["latency_p95_ms"],
                wants["memory_limit_mb"],
                chosen=replicas,
            )
            load = load_test(url, examples, est["planned_qps_per_replica"], load_seconds, api_key=api_key)
        error = estimate_error(est, load)
        est["error"] = error
        best = max(capacity["levels"], key=lambda lvl: lvl["qps"])
        deployment.capacity = {**capacity, "replica_cpu": cpu, "onnxruntime_threads": 1}
        deployment.estimate = est
        deployment.load_test = load
        deployment.measured = {
            "qps": float(capacity["capacity_qps"]),
            "p50_ms": float(best["p50_ms"]),
            "p95_ms": float(best["p95_ms"]),
            "p95_ms_single_client": float(capacity["p95_ms_single"]),
            "errors": float(capacity["errors"]),
            "load_test_qps": float(load["achieved_qps"]),
            "load_test_p95_ms": float(load["p95_ms"] or 0.0),
            "load_test_errors": float(load["errors"]),
        }
        if capacity.get("memory_mb") is not None:
            deployment.measured["memory_mb"] = float(capacity["memory_mb"])

        openapi = httpx.get(f"{url}/openapi.json", timeout=10.0).json()
        version = str(openapi.get("info", {}).get("version", ""))
        example = _service_example(openapi)  # made up by the service: no row of the data in the docs
        dockerfile, tag = write_dockerfile(run)
        exported = export or {}
        int8 = exported.get("served") == "int8"  # the in-process numbers of the file served
        performance = {
            "benchmark": (exported.get("quantization") or {}).get("benchmark")
            if int8
            else exported.get("benchmark"),
            "variant": "int8" if int8 else "float",
            "capacity": capacity,
            "estimate": est,
            "load_test": load,
            "estimate_error": error,
        }
        docs = write_api_docs(
            run / "service",
            openapi,
            url,
            example,
            response=_post(url, {"inputs": [example]}, api_key),
            performance=performance,
            error_example=_post(url, {"inputs": []}, api_key),
        )
        manifests = write_manifests(run / "service", f"{run.resolve().name}-model", tag, est, version)
        deployment.artifacts = {
            **docs,
            "k8s": str(manifests),
            "dockerfile": str(dockerfile),
            "image": tag,
        }
    finally:
        if not keep_running:
            stop_service(run)
            deployment.running = False
            deployment.pid = None
    return deployment
