"""Resource estimation: replicas and per-replica CPU/memory from measurements of one replica."""

from __future__ import annotations

import math

import pytest

from trainer_agent.skills.serve.sizing import (
    HEADROOM,
    estimate,
    estimate_error,
    memory_request_mb,
    predicted_p95,
    targets_from,
)
from trainer_agent.skills.specs import Requirement


def capacity(qps_levels=((20.0, 60.0), (30.0, 150.0)), memory_mb=1200.0):
    levels = [
        {"concurrency": c, "qps": q, "p50_ms": p / 2, "p95_ms": p, "errors": 0.0}
        for c, (q, p) in zip((1, 4), qps_levels, strict=False)
    ]
    return {"levels": levels, "capacity_qps": max(q for q, _ in qps_levels), "memory_mb": memory_mb}


def test_the_papers_example_eight_2gb_containers_for_100_qps():
    # A replica that serves 20 QPS at most, planned at 70%, needs ceil(100 / 14) = 8 replicas.
    est = estimate(capacity(((10.0, 40.0), (20.0, 90.0))), target_qps=100, memory_limit_mb=2048)
    assert est["replicas"] == 8 == math.ceil(100 / (20 * HEADROOM))
    assert est["memory_limit_mb"] == 2048 and est["memory_request_mb"] == 1536  # 1200 * 1.25 -> 64 MiB
    assert est["fits"] and est["cpu_per_replica"] == 1.0 and est["total_memory_mb"] == 8 * 1536
    assert est["planned_qps_per_replica"] == 12.5 and est["utilization"] == 0.625
    assert est["summary"].startswith("at least 8 replicas of 1 CPU / 1536 MiB for 100 QPS")
    assert "70%" in est["rule"]


def test_latency_target_adds_replicas():
    cap = capacity(((50.0, 10.0), (100.0, 110.0)))
    plain = estimate(cap, target_qps=140)
    assert plain["replicas"] == 2 and plain["predicted_p95_ms"] == pytest.approx(50.0)
    strict = estimate(cap, target_qps=140, latency_p95_ms=20)
    # p95 grows 2 ms per QPS above 50 QPS: <= 20 ms needs <= 55 QPS per replica -> 3 replicas
    assert strict["replicas"] == 3 and strict["predicted_p95_ms"] <= 20 and strict["fits"]


def test_unreachable_latency_and_memory_are_reported_not_looped():
    est = estimate(
        capacity(((50.0, 30.0), (100.0, 80.0)), memory_mb=3000),
        target_qps=80,
        latency_p95_ms=10,
        memory_limit_mb=2048,
    )
    assert est["replicas"] == 2 and not est["fits"]
    assert any("more replicas cannot fix" in n for n in est["notes"])
    assert any("over the 2048 MiB container limit" in n for n in est["notes"])


def test_no_target_plans_one_replica_at_half_capacity():
    est = estimate(capacity())
    assert est["replicas"] == 1 and est["planned_qps_per_replica"] == 15.0
    assert "no QPS target" in est["summary"]


def test_predicted_p95_interpolates_and_saturates():
    levels = capacity(((10.0, 5.0), (30.0, 25.0)))["levels"]
    assert predicted_p95(levels, 0) == 5.0
    assert predicted_p95(levels, 20) == pytest.approx(15.0)
    assert predicted_p95(levels, 31) == math.inf
    assert memory_request_mb(100) == 128 and memory_request_mb(103) == 192


def test_targets_from_requirements_and_estimate_error():
    reqs = [
        Requirement(name="qps", op=">=", target=100),
        Requirement(name="latency_p95_ms", op="<", target=50),
        Requirement(name="memory_mb", op="<=", target=2048),
        Requirement(name="accuracy", op=">=", target=0.9),
    ]
    assert targets_from(reqs) == {"target_qps": 100.0, "latency_p95_ms": 50.0, "memory_limit_mb": 2048.0}
    est = {"predicted_p95_ms": 20.0}
    good = estimate_error(est, {"offered_qps": 50, "achieved_qps": 49.5, "p95_ms": 25.0, "errors": 0})
    assert good == {"qps_error": -0.01, "p95_error": 0.25, "kept_up": True}
    bad = estimate_error(est, {"offered_qps": 50, "achieved_qps": 30, "p95_ms": 900.0, "errors": 3})
    assert bad["kept_up"] is False and bad["qps_error"] == -0.4


def test_noisy_levels_never_predict_less_latency_under_more_load():
    # measured on a busy machine: 4 clients got fewer QPS than 1 client
    levels = [
        {"concurrency": 1.0, "qps": 144.4, "p95_ms": 11.6},
        {"concurrency": 4.0, "qps": 116.9, "p95_ms": 28.4},
    ]
    assert predicted_p95(levels, 50) == 11.6  # light load: the single client's p95
    assert predicted_p95(levels, 144.4) == 11.6 and predicted_p95(levels, 150) == math.inf
