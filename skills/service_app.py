"""The web service of an exported model: POST /predict, GET /health, GET /metrics, /docs.

Run it (the API key, if any, comes from the environment so it never shows in `ps`):

    TRAINER_AGENT_API_KEY=secret python -m skills.service_app --model runs/<id>/exports/model.onnx \\
        --host 127.0.0.1 --port 8000

Requests: {"inputs": ["review text", ...]} for text models, {"inputs": [{"column": value, ...}]}
for tabular ones; 1 to 1000 inputs. With a key set, /predict needs the header `X-API-Key`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime,
# and the handlers are defined inside create_app with locally imported types.
import argparse
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from skills.onnx_predict import OnnxPredictor

MAX_INPUTS = 1000
API_KEY_ENV = "TRAINER_AGENT_API_KEY"
API_KEY_HEADER = "X-API-Key"
ROUTES = ("/predict", "/health", "/metrics", "/docs", "/openapi.json", "/")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PredictRequest(BaseModel):
    inputs: list[str | dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_INPUTS,
        description="Texts (text models) or records keyed by column name (tabular models).",
    )


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]] = Field(
        description='{"label", "probabilities"} per input for classifiers, {"value"} for regressors'
    )
    model: dict[str, Any]


def _example_body(example: Any, chars: int = 80) -> str:
    if isinstance(example, str) and len(example) > chars:
        example = example[:chars].rsplit(" ", 1)[0] + " ..."
    return json.dumps({"inputs": [example]})


def _describe(info: dict[str, Any], example: Any) -> tuple[str, str]:
    task = info["task_type"].replace("_", " ")
    title = f"{task.capitalize()} model ({info['family']})"
    lines = [f"Serves a {task} model exported to ONNX and run with onnxruntime."]
    if info["labels"]:
        lines.append(f"It predicts `{info['label_column']}`, one of: {', '.join(info['labels'])}.")
    else:
        lines.append(f"It predicts the number `{info['label_column']}`.")
    if info["text_column"]:
        lines.append(f"Send a list of texts (or objects with the field `{info['text_column']}`).")
    else:
        cols = ", ".join(
            f"`{i['column']}` ({'number' if i['kind'] == 'float' else 'text'})" for i in info["inputs"]
        )
        lines.append(f"Send a list of records with the columns {cols}; a missing one counts as unknown.")
    lines.append(f"Up to {MAX_INPUTS} inputs per request. Example body: `{_example_body(example)}`.")
    lines.append("Monitoring: Prometheus metrics at `/metrics`; liveness at `/health`.")
    return title, "\n\n".join(lines)


def _peak_rss_bytes() -> float:
    """VmHWM of this process (Linux); the current RSS elsewhere is not worth a dependency."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("nan")


def create_app(model_path: str, api_key: str | None = None) -> Any:
    """A FastAPI app serving the ONNX model at `model_path` (its own Prometheus registry, so apps
    in one process do not share counters). With `api_key`, /predict needs header X-API-Key."""
    from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.security import APIKeyHeader
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        ProcessCollector,
        generate_latest,
    )

    predictor = OnnxPredictor(model_path)
    info = predictor.info
    model_summary = {k: info[k] for k in ("task_type", "family", "labels", "file")}
    example = predictor.meta.get("example")
    if example is None:
        example = "an example text" if predictor.is_text else {i["column"]: None for i in predictor.inputs}
    title, description = _describe(info, example)

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_resident_memory_bytes etc.
    requests_total = Counter(
        "trainer_agent_requests_total",
        "HTTP requests by endpoint and status",
        ["endpoint", "status"],
        registry=registry,
    )
    latency = Histogram(
        "trainer_agent_request_seconds",
        "Request latency in seconds",
        ["endpoint"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    predictions_total = Counter("trainer_agent_predictions_total", "Inputs predicted", registry=registry)
    peak_rss = Gauge(
        "trainer_agent_peak_rss_bytes", "Peak resident memory of this process", registry=registry
    )
    peak_rss.set_function(_peak_rss_bytes)
    errors_total = Counter(
        "trainer_agent_errors_total", "Failed requests by kind", ["kind"], registry=registry
    )

    app = FastAPI(title=title, description=description, version="1.0")
    app.state.predictor = predictor
    app.state.registry = registry
    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Needed when a key is set")

    def check_key(given: str | None = Depends(key_header)) -> None:
        if api_key and not (given and secrets.compare_digest(given.encode(), api_key.encode())):
            raise HTTPException(
                401, detail=f"Missing or wrong API key; send it in the {API_KEY_HEADER} header"
            )

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        endpoint = request.url.path if request.url.path in ROUTES else "other"
        try:
            response = await call_next(request)
        except Exception:
            requests_total.labels(endpoint, "500").inc()
            errors_total.labels("server").inc()
            raise
        latency.labels(endpoint).observe(time.perf_counter() - start)
        requests_total.labels(endpoint, str(response.status_code)).inc()
        if response.status_code >= 400:
            status = response.status_code
            kind = {401: "auth", 422: "validation"}.get(status, "server" if status >= 500 else "client")
            errors_total.labels(kind).inc()
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                parts.append("the body is not valid JSON")
                continue
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "body"
            parts.append(f"{where}: {err.get('msg')}")
        hint = f"Send JSON like {_example_body(example)} with 1 to {MAX_INPUTS} inputs."
        return JSONResponse(
            status_code=422,
            content={"detail": "; ".join(parts) + ". " + hint, "errors": jsonable_encoder(exc.errors())},
        )

    @app.post("/predict", response_model=PredictResponse, dependencies=[Depends(check_key)])
    def predict(
        body: PredictRequest = Body(
            openapi_examples={"one": {"summary": "One input", "value": {"inputs": [example]}}}
        ),
    ) -> dict[str, Any]:
        try:
            results = predictor.predict(body.inputs)
        except ValueError as err:
            raise HTTPException(422, detail=str(err)) from err
        predictions_total.inc(len(results))
        return {"predictions": results, "model": model_summary}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/")
    def root() -> dict[str, Any]:
        return {"model": info, "docs": "/docs", "predict": "/predict"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m skills.service_app", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path to exports/model.onnx")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key-env", default=API_KEY_ENV, help="environment variable holding the API key")
    args = parser.parse_args(argv)
    if not Path(args.model).is_file():
        parser.error(f"model file {args.model} does not exist")
    app = create_app(args.model, api_key=os.environ.get(args.api_key_env) or None)
    print(f"serving {args.model} on http://{args.host}:{args.port} (docs at /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
