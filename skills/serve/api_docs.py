"""The service's interface documents: service/API.md and service/openapi.json.

    paths = write_api_docs(run_dir / "service", openapi, url, example, response, performance)

`openapi` is the running service's /openapi.json (or `create_app(...).openapi()`); `response`
is a real answer of the service to `example`, and `performance` holds what was measured
(in-process benchmark, capacity of one replica, the estimate, the load test), so the document
shows numbers, not promises.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from trainer_agent.skills.markdown_safe import md_json, md_text
from trainer_agent.skills.serve.service_app import API_KEY_HEADER, MAX_BODY_BYTES, MAX_INPUTS, MAX_TEXT_CHARS

ENDPOINTS = (
    ("POST", "/predict", "Predict for 1 to {max_inputs} inputs (texts or records)"),
    ("GET", "/health", "Liveness: 200 while the process answers"),
    ("GET", "/ready", "Readiness: 200 when the model is loaded and warm; 503 while shutting down"),
    ("GET", "/metrics", "Prometheus metrics (requests, latency histogram, errors, model version)"),
    ("GET", "/docs", "Interactive OpenAPI documentation (Swagger UI, served by the service: works offline)"),
    ("GET", "/redoc", "The same documentation as one page (ReDoc)"),
    ("GET", "/openapi.json", "The OpenAPI schema (also saved as openapi.json beside this file)"),
    ("GET", "/", "The model's description: task, labels, inputs, version"),
)
ERRORS = (
    ("401", "Missing or wrong API key (only when the service was started with a key)"),
    ("413", f"Body over {MAX_BODY_BYTES // 2**20} MiB"),
    ("422", "Invalid JSON, wrong shape, too many inputs, unknown column, wrong type; `detail` says which"),
    ("503", "The service is shutting down (retry; another replica answers)"),
    ("500", "A bug in the service; the JSON log line with the same `x-request-id` has the details"),
)
METRICS = (
    ("trainer_agent_requests_total{endpoint,status}", "requests by endpoint and HTTP status"),
    ("trainer_agent_request_seconds{endpoint}", "latency histogram (seconds)"),
    ("trainer_agent_errors_total{kind}", "errors: auth, validation, too_large, client, server"),
    ("trainer_agent_predictions_total", "inputs predicted"),
    ("trainer_agent_in_flight_requests", "requests being served now"),
    ("trainer_agent_model_info{version,family,task_type}", "the model served (value 1)"),
    ("trainer_agent_ready", "1 while the service takes traffic"),
    ("trainer_agent_peak_rss_bytes, process_*", "memory and CPU of the process"),
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "-" if value is None else str(value)


def _performance(perf: dict[str, Any]) -> list[str]:
    out = ["## Measured performance", ""]
    machine = f"{platform.machine()} Linux, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    out.append(f"Measured on {machine}, on 127.0.0.1 (client and service on the same machine).")
    out.append("")
    bench = perf.get("benchmark") or {}
    if bench:
        b1, bn = bench.get("batch_1_ms", {}), bench.get("batch_ms", {})
        out += [
            f"In process ({bench.get('runtime', 'onnxruntime')}, {bench.get('threads')} thread"
            f"{', the int8 copy' if perf.get('variant') == 'int8' else ''}):",
            "",
            "| batch | p50 ms | p95 ms | p99 ms | rows/s |",
            "|---|---|---|---|---|",
            f"| 1 | {_fmt(b1.get('p50'))} | {_fmt(b1.get('p95'))} | {_fmt(b1.get('p99'))} "
            f"| {_fmt(bench.get('rows_per_s_single'))} |",
            f"| {bench.get('batch_size')} | {_fmt(bn.get('p50'))} | {_fmt(bn.get('p95'))} "
            f"| {_fmt(bn.get('p99'))} | {_fmt(bench.get('rows_per_s_batched'))} |",
            "",
        ]
    cap = perf.get("capacity") or {}
    if cap:
        out += [
            "Over HTTP, one replica pinned to 1 CPU, one input per request (closed loop):",
            "",
            "| concurrent clients | QPS | p50 ms | p95 ms | errors |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {int(lvl['concurrency'])} | {_fmt(lvl['qps'])} | {_fmt(lvl['p50_ms'])} "
            f"| {_fmt(lvl['p95_ms'])} | {int(lvl['errors'])} |"
            for lvl in cap.get("levels", [])
        ]
        out += ["", f"Peak memory of the serving process: {_fmt(cap.get('memory_mb'))} MiB.", ""]
    est = perf.get("estimate") or {}
    if est:
        out += [
            f"**Sizing:** {est['summary']}.",
            f"Rule: {est['rule']}.",
            f"Planned load per replica: {_fmt(est['planned_qps_per_replica'])} QPS "
            f"({est['utilization']:.0%} of capacity), predicted p95 {_fmt(est['predicted_p95_ms'])} ms.",
            *[f"Note: {n}." for n in est.get("notes", [])],
            "",
        ]
    load = perf.get("load_test") or {}
    if load:
        err = perf.get("estimate_error") or {}
        out += [
            f"**Load test** (open loop, {load['offered_qps']:g} QPS for {load['seconds']:g} s, one replica): "
            f"achieved {_fmt(load['achieved_qps'])} QPS, p50 {_fmt(load['p50_ms'])} ms, "
            f"p95 {_fmt(load['p95_ms'])} ms, p99 {_fmt(load['p99_ms'])} ms, {load['errors']} errors.",
        ]
        if err:
            p95_err = err.get("p95_error")
            out.append(
                f"Estimate error: achieved QPS {err['qps_error']:+.1%} of the rate offered; p95 "
                + (f"{p95_err:+.1%} of the predicted p95." if p95_err is not None else "not predicted.")
            )
        out.append("")
    return out


def _is_base64_image(example: Any) -> bool:
    """A base64 PNG, JPEG, GIF, BMP or WebP file (an image model's example input)."""
    return isinstance(example, str) and example.startswith(("iVBORw0KGgo", "/9j/", "R0lGOD", "Qk", "UklGR"))


def render_api_md(
    openapi: dict[str, Any],
    url: str,
    example: Any,
    response: dict[str, Any] | None,
    performance: dict[str, Any] | None = None,
    error_example: dict[str, Any] | None = None,
) -> str:
    info = openapi.get("info", {})
    body = md_json({"inputs": [example]}, indent=None, ensure_ascii=False)
    lines = [
        f"# {md_text(info.get('title', 'Model service'))} — API",
        "",
        f"Version {info.get('version', '?')} (the ONNX file's SHA-256 prefix). Base URL: `{url}`.",
        "",
        info.get("description", ""),
        "",
        "## Endpoints",
        "",
        "| method | path | what it does |",
        "|---|---|---|",
        *[f"| {m} | `{p}` | {d.format(max_inputs=MAX_INPUTS)} |" for m, p, d in ENDPOINTS],
        "",
        "## Predict",
        "",
        "Request:",
        "",
        "```bash",
        f"curl -s -X POST {url}/predict -H 'content-type: application/json' \\",
        f'     -H "{API_KEY_HEADER}: $TRAINER_AGENT_API_KEY" \\',
        f"     -d '{body.replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'",
        "```",
        "",
        "```python",
        *(
            [
                "import base64",
                "",
                "import httpx",
                "",
                "image = base64.b64encode(open('picture.png', 'rb').read()).decode()  # PNG, JPEG, ...",
                f"r = httpx.post({url + '/predict'!r}, json={{'inputs': [image]}},",
            ]
            if _is_base64_image(example)
            else [
                "import httpx",
                "",
                f"r = httpx.post({url + '/predict'!r}, json={{'inputs': [{example!r}]}},",
            ]
        ),
        f"               headers={{{API_KEY_HEADER!r}: 'your key, if the service has one'}})",
        "r.raise_for_status()",
        "print(r.json()['predictions'])",
        "```",
        "",
        f"Send up to {MAX_INPUTS} inputs in one request to predict them as a batch; predictions come back "
        "in the same order.",
        "",
    ]
    if response is not None:
        lines += [
            "Response (a real answer of this service):",
            "",
            "```json",
            md_json(response, indent=2),
            "```",
            "",
        ]
    lines += [
        "## Errors",
        "",
        "Every error is JSON with a `detail` sentence; 422s also list `errors` (pydantic's, by field).",
        "",
        "| status | when |",
        "|---|---|",
        *[f"| {code} | {when} |" for code, when in ERRORS],
        "",
    ]
    if error_example is not None:
        lines += ["Example 422:", "", "```json", md_json(error_example, indent=2)[:1500], "```", ""]
    lines += [
        "## Limits",
        "",
        f"- 1 to {MAX_INPUTS} inputs per request; texts up to {MAX_TEXT_CHARS:,} characters; "
        f"bodies up to {MAX_BODY_BYTES // 2**20} MiB.",
        f"- API key: when the service runs with `TRAINER_AGENT_API_KEY` set, `/predict` needs the "
        f"`{API_KEY_HEADER}` header; probes, metrics and the documentation pages need none.",
        "- Every response carries `x-request-id` (yours if you sent one); the service logs one JSON line "
        "per request with it.",
        "- SIGTERM: `/ready` turns 503 at once, requests in flight finish (up to 10 s), then it exits.",
        "",
        "## Monitoring (`/metrics`, Prometheus text format)",
        "",
        "| metric | meaning |",
        "|---|---|",
        *[f"| `{name}` | {what} |" for name, what in METRICS],
        "",
    ]
    if performance:
        lines += _performance(performance)
    lines += [
        "## Running it",
        "",
        "- Here: `trainer-agent serve RUN_DIR`, `trainer-agent status RUN_DIR`, "
        "`trainer-agent stop RUN_DIR`.",
        "- Docker: `trainer-agent package RUN_DIR` builds the image from `service/Dockerfile`; "
        "`docker run -p 8000:8000 IMAGE`.",
        "- Kubernetes: `kubectl apply -f service/k8s.yaml` (Deployment sized by the estimate, Service, "
        "HorizontalPodAutoscaler; probes on /health and /ready).",
        "",
    ]
    return "\n".join(lines)


def write_api_docs(
    svc_dir: str | Path,
    openapi: dict[str, Any],
    url: str,
    example: Any,
    response: dict[str, Any] | None = None,
    performance: dict[str, Any] | None = None,
    error_example: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write svc_dir/API.md and svc_dir/openapi.json; return their paths."""
    folder = Path(svc_dir)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path, md_path = folder / "openapi.json", folder / "API.md"
    spec_path.write_text(json.dumps(openapi, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(
        render_api_md(openapi, url, example, response, performance, error_example), encoding="utf-8"
    )
    return {"api_md": str(md_path), "openapi": str(spec_path)}
