"""How many replicas, and how much CPU and memory each, a service needs for a target load.

    est = estimate(capacity, target_qps=100, latency_p95_ms=50, memory_limit_mb=2048)
    est["replicas"], est["memory_request_mb"], est["rule"]

The inputs are measurements of ONE replica pinned to one CPU (`skills.export.benchmark.service_capacity`:
closed-loop QPS and p95 at a few concurrency levels, and the process's peak memory). The rule:

- plan each replica for HEADROOM (70%) of its measured capacity, so a replica lost, a burst, or
  a noisy neighbour does not push the others over the edge (and the HPA scales at 70% CPU);
- the p95 at the planned per-replica rate is read off the measured (qps, p95) curve; replicas
  are added until it is within the latency target;
- memory per replica: the measured peak RSS plus 25%, rounded up to 64 MiB; it must fit the
  container memory limit the person named, else the estimate says it does not fit.
"""

from __future__ import annotations

import math
from typing import Any

HEADROOM = 0.7
MEMORY_MARGIN = 1.25
MEMORY_STEP_MB = 64
CPU_PER_REPLICA = 1.0
MAX_REPLICAS = 1000
RULE = (
    f"each replica ({CPU_PER_REPLICA:g} CPU) is planned at {HEADROOM:.0%} of its measured capacity; "
    f"replicas are added until the predicted p95 meets the target; memory = peak RSS x {MEMORY_MARGIN:g}, "
    f"rounded up to {MEMORY_STEP_MB} MiB"
)


def predicted_p95(levels: list[dict[str, float]], qps: float) -> float:
    """The p95 (ms) at `qps` on one replica, read off the measured levels: taken in order of
    concurrency, made monotonic (a noisy level never predicts more QPS or less latency than a
    lighter one), and interpolated linearly; below the lightest level its p95 holds, past the
    heaviest the replica is saturated: infinity."""
    ordered = sorted((lvl for lvl in levels if lvl.get("qps")), key=lambda lvl: lvl.get("concurrency", 0))
    if not ordered:
        raise ValueError("no measured load levels to predict latency from")
    points: list[tuple[float, float]] = []
    for lvl in ordered:
        q, p = float(lvl["qps"]), float(lvl["p95_ms"])
        if points:
            q, p = max(q, points[-1][0]), max(p, points[-1][1])
        points.append((q, p))
    if qps <= points[0][0]:
        return points[0][1]
    for (q0, p0), (q1, p1) in zip(points, points[1:], strict=False):
        if qps <= q1:
            return p0 + (p1 - p0) * (qps - q0) / (q1 - q0) if q1 > q0 else p1
    return math.inf


def memory_request_mb(peak_rss_mb: float) -> int:
    return int(math.ceil(peak_rss_mb * MEMORY_MARGIN / MEMORY_STEP_MB) * MEMORY_STEP_MB)


def estimate(
    capacity: dict[str, Any],
    target_qps: float | None = None,
    latency_p95_ms: float | None = None,
    memory_limit_mb: float | None = None,
    headroom: float = HEADROOM,
    chosen: int | None = None,
) -> dict[str, Any]:
    """Replicas and per-replica resources for `target_qps` (None: one replica, planned at half its
    capacity) within `latency_p95_ms` and `memory_limit_mb` (each None: no constraint).

    `chosen`: the number of replicas the Server agent chose instead of the sized one; the estimate then says
    what that many replicas would do, and `fits` is false when they are too few."""
    cap = float(capacity["capacity_qps"])
    levels = capacity["levels"]
    if cap <= 0:
        raise ValueError("the measured capacity is zero: the service answered no request")
    usable = cap * headroom
    notes: list[str] = []
    replicas = max(1, math.ceil(target_qps / usable)) if target_qps else 1
    floor = predicted_p95(levels, 0.0)  # the p95 of a lightly loaded replica
    if latency_p95_ms is not None and target_qps and floor <= latency_p95_ms:
        while replicas < MAX_REPLICAS and predicted_p95(levels, target_qps / replicas) > latency_p95_ms:
            replicas += 1
    sized = replicas
    if chosen is not None and chosen != sized:
        replicas = chosen
        notes.append(
            f"{chosen} replica{'s' if chosen > 1 else ''} chosen; the measurements size it at {sized}"
        )
    planned = target_qps / replicas if target_qps else round(cap * 0.5, 1)
    p95 = predicted_p95(levels, planned)
    fits_latency = latency_p95_ms is None or p95 <= latency_p95_ms
    if target_qps and planned > cap:
        fits_latency = False
        notes.append(
            f"{replicas} replica{'s' if replicas > 1 else ''} would each get {planned:.1f} QPS, more than "
            f"the {cap:g} QPS one replica measured"
        )
    if latency_p95_ms is not None and p95 > latency_p95_ms and replicas == sized:
        notes.append(
            f"even lightly loaded, one replica's p95 is {p95:.1f} ms, over the {latency_p95_ms:g} ms "
            "target: more replicas cannot fix that; a faster model or runtime can"
        )
    memory = memory_request_mb(float(capacity.get("memory_mb") or 0.0))
    fits_memory = memory_limit_mb is None or memory <= memory_limit_mb
    if not fits_memory:
        notes.append(
            f"a replica needs {memory} MiB (peak {capacity.get('memory_mb')} MiB + 25%), over the "
            f"{memory_limit_mb:g} MiB container limit"
        )
    limit = int(memory_limit_mb) if memory_limit_mb else memory  # the person's container limit
    return {
        "replicas": replicas,
        "sized_replicas": sized,
        "target_qps": target_qps,
        "latency_p95_target_ms": latency_p95_ms,
        "per_replica_capacity_qps": cap,
        "planned_qps_per_replica": round(planned, 2),
        "utilization": round(planned / cap, 3),
        "predicted_p95_ms": round(p95, 3),
        "cpu_per_replica": CPU_PER_REPLICA,
        "memory_request_mb": memory,
        "memory_limit_mb": limit,
        "peak_rss_mb": capacity.get("memory_mb"),
        "total_cpu": replicas * CPU_PER_REPLICA,
        "total_memory_mb": replicas * memory,
        "headroom": headroom,
        "fits": fits_latency and fits_memory,
        "rule": RULE.replace(f"{HEADROOM:.0%}", f"{headroom:.0%}"),
        "summary": summary(replicas, memory, target_qps, cap),
        "notes": notes,
    }


def summary(replicas: int, memory_mb: int, target_qps: float | None, capacity_qps: float) -> str:
    """One line as the paper's Server agent says it: 'at least 8 replicas of 1 CPU / 2048 MiB for
    100 QPS'."""
    size = f"{CPU_PER_REPLICA:g} CPU / {memory_mb} MiB"
    if target_qps:
        return (
            f"at least {replicas} replica{'s' if replicas > 1 else ''} of {size} for {target_qps:g} QPS "
            f"(one replica measured {capacity_qps:g} QPS)"
        )
    return f"1 replica of {size}; it measured {capacity_qps:g} QPS (no QPS target given)"


def targets_from(requirements: list[Any]) -> dict[str, float | None]:
    """target_qps, latency_p95_ms and memory_limit_mb from a TaskSpec's requirements."""
    found: dict[str, float | None] = {"target_qps": None, "latency_p95_ms": None, "memory_limit_mb": None}
    names = {"qps": "target_qps", "latency_p95_ms": "latency_p95_ms", "memory_mb": "memory_limit_mb"}
    for req in requirements:
        if req.name in names:
            found[names[req.name]] = float(req.target)
    return found


def estimate_error(est: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    """How far the load test on one replica, at the planned per-replica rate, landed from what the
    estimate predicted: relative errors of the achieved QPS (vs. the rate offered) and of the
    p95 (vs. predicted), and whether the replica kept up without errors."""
    offered = float(load["offered_qps"])
    out: dict[str, Any] = {
        "qps_error": round((float(load["achieved_qps"]) - offered) / offered, 4) if offered else None,
        "p95_error": None,
        "kept_up": bool(load["achieved_qps"] >= 0.95 * offered and load["errors"] == 0),
    }
    predicted = est.get("predicted_p95_ms")
    if predicted and load.get("p95_ms") is not None and math.isfinite(predicted):
        out["p95_error"] = round((float(load["p95_ms"]) - predicted) / predicted, 4)
    return out
