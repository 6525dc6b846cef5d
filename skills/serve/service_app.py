"""The web service of an exported model: POST /predict, GET /health, /ready, /metrics, /docs, /redoc.

Run it (the API key, if any, comes from the environment so it never shows in `ps`):

    TRAINER_AGENT_API_KEY=secret python -m trainer_agent.skills.serve.service_app \\
        --model runs/<id>/exports/model.onnx --host 127.0.0.1 --port 8000 [--cpus 0] [--threads 1]

Requests: {"inputs": ["review text", ...]} for text models, {"inputs": [{"column": value, ...}]}
for tabular ones; 1 to 1000 inputs, texts up to 20,000 characters, bodies up to 4 MiB. With a key
set, /predict needs the header `X-API-Key`. Logs are JSON lines on stderr, one per request.
SIGTERM stops it gracefully: /ready turns 503 at once, requests in flight finish (up to 10 s).
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime,
# and the handlers are defined inside create_app with locally imported types.
import argparse
import json
import logging
import os
import secrets
import sys
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from trainer_agent.skills.data.image_data import encode_png
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.markdown_safe import md_text as md
from trainer_agent.skills.serve.docs_pages import DOCS_ROUTES, add_docs_pages
from trainer_agent.skills.serve.examples import synthetic_example

MAX_INPUTS = 1000
MAX_TEXT_CHARS = 20_000
MAX_BODY_BYTES = 4 * 2**20
GRACEFUL_SHUTDOWN_S = 10
INLINE_INPUTS = 32  # requests with more inputs are predicted in a worker thread
API_KEY_ENV = "TRAINER_AGENT_API_KEY"
API_KEY_HEADER = "X-API-Key"
ROUTES = ("/predict", "/health", "/ready", "/metrics", "/openapi.json", "/", *DOCS_ROUTES)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LOGGER = "trainer_agent.service"

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


class PredictRequest(BaseModel):
    inputs: list[Text | dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_INPUTS,
        description="Texts (text models) or records keyed by column name (tabular models).",
    )


ImageText = Annotated[str, StringConstraints(max_length=MAX_BODY_BYTES)]


class ImagePredictRequest(BaseModel):
    inputs: list[ImageText | dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_INPUTS,
        description='Images as base64 text (PNG, JPEG, BMP, GIF, WebP), or objects {"image": base64}.',
    )


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]] = Field(
        description='{"label", "probabilities"} per input for classifiers, {"value"} for regressors'
    )
    model: dict[str, Any]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def json_logging(level: int = logging.INFO) -> None:
    """Route every logger (uvicorn's included) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _example_body(example: Any, chars: int = 80) -> str:
    if isinstance(example, str) and len(example) > chars:
        example = example[:chars].rsplit(" ", 1)[0] + " ..."
    return json.dumps({"inputs": [example]})


def _describe(info: dict[str, Any], example: Any) -> tuple[str, str]:
    """The OpenAPI title and description (Markdown: labels and column names are escaped)."""

    task = info["task_type"].replace("_", " ")
    title = f"{task.capitalize()} model ({info['family']})"
    lines = [f"Serves a {task} model exported to ONNX and run with onnxruntime (version {info['version']})."]
    if info["labels"]:
        labels = ", ".join(md(label) for label in info["labels"])
        lines.append(f"It predicts `{md(info['label_column'])}`, one of: {labels}.")
    else:
        lines.append(f"It predicts the number `{md(info['label_column'])}`.")
    if info["task_type"] == "image_classification":
        spec = info["inputs"][0]
        lines.append(
            "Send a list of images as base64 text (PNG, JPEG, BMP, GIF or WebP file bytes; a `data:` URL "
            "prefix is accepted), or objects with the field `image`. Each is converted to "
            f"{'grayscale' if int(spec['channels']) == 1 else 'RGB'} and resized to "
            f"{spec['side']}x{spec['side']} pixels; an image that does not decode gets a 422."
        )
    elif info["text_column"]:
        lines.append(f"Send a list of texts (or objects with the field `{md(info['text_column'])}`).")
    else:
        cols = ", ".join(
            f"`{md(i['column'])}` ({'number' if i['kind'] == 'float' else 'text'})" for i in info["inputs"]
        )
        lines.append(f"Send a list of records with the columns {cols}; a missing one counts as unknown.")
    lines.append(
        f"Limits: 1 to {MAX_INPUTS} inputs per request, texts up to {MAX_TEXT_CHARS:,} characters, "
        f"bodies up to {MAX_BODY_BYTES // 2**20} MiB. Example body: `{md(_example_body(example))}`."
    )
    lines.append(
        "Monitoring: Prometheus metrics at `/metrics`; liveness at `/health`; readiness at `/ready`."
    )
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


def create_app(model_path: str, api_key: str | None = None, threads: int | None = None) -> Any:
    """A FastAPI app serving the ONNX model at `model_path` (its own Prometheus registry, so apps
    in one process do not share counters). With `api_key`, /predict needs header X-API-Key.
    `threads`: onnxruntime intra-op threads (None: all cores)."""

    from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response
    from fastapi.exceptions import RequestValidationError
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
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from trainer_agent.skills.serve.service_json import SafeJSONResponse as JSONResponse
    from trainer_agent.skills.serve.service_json import StrictJSONRoute

    log = logging.getLogger(LOGGER)
    predictor = OnnxPredictor(model_path, threads=threads)
    info = predictor.info
    model_summary = {k: info[k] for k in ("task_type", "family", "labels", "file", "variant", "version")}
    # Made up, of the model's shape and types: a row of the data (as older exports kept in their
    # metadata) would show in the docs and in every 422's hint.
    example = synthetic_example(predictor.task_type, predictor.inputs)
    if example is None:  # an image model: a blank image of its size
        from PIL import Image

        example = encode_png(Image.new("L", (int(predictor.inputs[0]["side"]),) * 2, 255))
    Request_ = ImagePredictRequest if predictor.is_image else PredictRequest
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
    in_flight = Gauge("trainer_agent_in_flight_requests", "Requests being served", registry=registry)
    model_info = Gauge(
        "trainer_agent_model_info",
        "The served model (value 1); its version is the ONNX file's SHA-256 prefix",
        ["version", "family", "task_type"],
        registry=registry,
    )
    model_info.labels(info["version"], str(info["family"]), info["task_type"]).set(1)
    ready_gauge = Gauge("trainer_agent_ready", "1 when the service takes traffic", registry=registry)

    # Loaded above; one prediction warms the session up before the service says it is ready.
    predictor.predict([example])
    state = {"ready": True}
    ready_gauge.set_function(lambda: float(state["ready"]))

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        log.info("started", extra={"fields": {"event": "started", "model": model_summary}})
        yield
        state["ready"] = False
        log.info("stopped", extra={"fields": {"event": "stopped"}})

    app = FastAPI(
        title=title,
        description=description,
        version=info["version"],
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,  # /docs and /redoc come from add_docs_pages: no CDN
        redoc_url=None,
    )
    add_docs_pages(app)
    app.router.route_class = StrictJSONRoute  # NaN and Infinity are not JSON (skills.serve.service_json)
    app.state.predictor = predictor
    app.state.registry = registry
    app.state.service = state
    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Needed when a key is set")

    async def check_key(given: str | None = Depends(key_header)) -> None:
        if api_key and not (given and secrets.compare_digest(given.encode(), api_key.encode())):
            raise HTTPException(
                401, detail=f"Missing or wrong API key; send it in the {API_KEY_HEADER} header"
            )

    def too_large() -> HTTPException:
        return HTTPException(413, detail=f"The request body is over {MAX_BODY_BYTES // 2**20} MiB.")

    class Observe:
        """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): body-size limit, request id,
        metrics and one JSON log line per request."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await observe(self.app, scope, receive, send)

    async def observe(router_app: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await router_app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        endpoint = path if path in ROUTES else "other"
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        status = {"code": 500}
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise too_large()
            return message

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())],
                }
            await send(message)

        # Whether the service still took requests when this one arrived: a request already in
        # flight when SIGTERM comes is finished, only later ones get 503.
        scope.setdefault("state", {})["arrived_ready"] = state["ready"]
        in_flight.inc()
        try:
            declared = headers.get(b"content-length")
            if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                err = too_large()
                await JSONResponse({"detail": err.detail}, status_code=err.status_code)(
                    scope, receive, send_with_id
                )
            else:
                await router_app(scope, limited_receive, send_with_id)
        except Exception:
            status["code"] = 500
            log.exception("unhandled error", extra={"fields": {"event": "error", "request_id": request_id}})
            raise
        finally:
            in_flight.dec()
            seconds = time.perf_counter() - start
            code = status["code"]
            latency.labels(endpoint).observe(seconds)
            requests_total.labels(endpoint, str(code)).inc()
            if code >= 400:
                kind = {401: "auth", 413: "too_large", 422: "validation"}.get(
                    code, "server" if code >= 500 else "client"
                )
                errors_total.labels(kind).inc()
            log.info(
                "request",
                extra={
                    "fields": {
                        "event": "request",
                        "method": scope.get("method"),
                        "path": path,
                        "status": code,
                        "ms": round(seconds * 1000, 3),
                        "request_id": request_id,
                    }
                },
            )

    # Every answer goes through SafeJSONResponse: an error about hostile input (a lone surrogate,
    # an infinite number) cannot fail into a 500 while it is being written.
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts, errors = [], []
        for err in exc.errors()[:20]:
            if err.get("type") == "json_invalid":
                reason = (err.get("ctx") or {}).get("error")
                parts.append("the body is not valid JSON" + (f" ({reason})" if reason else ""))
                continue
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "body"
            parts.append(f"{where}: {err.get('msg')}")
            errors.append({"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")})
        hint = f"Send JSON like {_example_body(example)} with 1 to {MAX_INPUTS} inputs."
        detail = "; ".join(parts) + ". " + hint
        return JSONResponse(status_code=422, content={"detail": detail, "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        """A bug, never bad input: one JSON sentence (the traceback is in the log line)."""
        return JSONResponse({"detail": "Internal error; the service log has the details."}, status_code=500)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        dependencies=[Depends(check_key)],
        responses={
            401: {"description": "Missing or wrong API key (only when a key is configured)"},
            413: {"description": f"Body over {MAX_BODY_BYTES // 2**20} MiB"},
            422: {"description": "Invalid body or input; `detail` says which input and column"},
            503: {"description": "The service is shutting down"},
        },
    )
    async def predict(
        request: Request,
        body: Request_ = Body(  # type: ignore[valid-type]
            openapi_examples={"one": {"summary": "One input", "value": {"inputs": [example]}}}
        ),
    ) -> Any:
        if not request.scope.get("state", {}).get("arrived_ready", state["ready"]):
            raise HTTPException(503, detail="The service is shutting down; retry on another replica.")
        inputs: list[Any] = body.inputs  # type: ignore[attr-defined]  # the request model is per task
        try:
            # A few inputs take well under a millisecond: run them on the event loop; a big batch
            # goes to a worker thread so /health and /ready still answer meanwhile.
            if len(inputs) <= INLINE_INPUTS:
                results = predictor.predict(inputs)
            else:
                results = await run_in_threadpool(predictor.predict, inputs)
        except ValueError as err:
            raise HTTPException(422, detail=str(err)) from err
        predictions_total.inc(len(results))
        # Built by hand: the response model is for the docs; validating our own output costs time.
        return JSONResponse({"predictions": results, "model": model_summary})

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": "Not ready (shutting down)"}})
    async def ready() -> Any:
        """Readiness: the model is loaded and warmed up, and the service is not shutting down."""
        if not state["ready"]:
            return JSONResponse({"status": "not ready", "model": model_summary}, status_code=503)
        return {"status": "ready", "model": model_summary}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/")
    async def root() -> dict[str, Any]:
        return {"model": info, "docs": "/docs", "predict": "/predict"}

    app.add_middleware(Observe)
    return app


def serve(app: Any, host: str, port: int) -> None:
    """Run `app` with uvicorn; SIGTERM/SIGINT turn /ready to 503 before the graceful shutdown."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.state.service["ready"] = False
            logging.getLogger(LOGGER).info(
                "shutting down", extra={"fields": {"event": "signal", "signal": sig}}
            )
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    Server(config).run()


def _cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m trainer_agent.skills.serve.service_app", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, help="path to exports/model.onnx")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key-env", default=API_KEY_ENV, help="environment variable holding the API key")
    parser.add_argument(
        "--cpus", help="pin the process to these CPUs, e.g. '1' or '0-3' (one replica's share)"
    )
    parser.add_argument("--threads", type=int, help="onnxruntime threads (default: the CPUs it may use)")
    args = parser.parse_args(argv)
    if not Path(args.model).is_file():
        parser.error(f"model file {args.model} does not exist")
    json_logging()
    if args.cpus:
        os.sched_setaffinity(0, _cpu_list(args.cpus))
    threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None)
    app = create_app(args.model, api_key=os.environ.get(args.api_key_env) or None, threads=threads)
    logging.getLogger(LOGGER).info(
        f"serving {args.model} on http://{args.host}:{args.port} (docs at /docs)",
        extra={"fields": {"event": "listening", "host": args.host, "port": args.port, "threads": threads}},
    )
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
