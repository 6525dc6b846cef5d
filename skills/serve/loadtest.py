"""A load generator for the model service: open loop at a fixed rate, or closed loop at a fixed
concurrency, over persistent HTTP/1.1 connections (asyncio streams, no client library).

    result = load_test("http://127.0.0.1:8000", examples, rate=50, seconds=30)
    result["achieved_qps"], result["p95_ms"], result["errors"]
    closed_loop("http://127.0.0.1:8000", examples, concurrency=4, seconds=2)   # capacity

Open loop: request k is sent at start + k / rate whether or not earlier ones have come back, as
independent users send them, so a slow service shows up as latency and a falling achieved rate
instead of silently slowing the client down. `late_ms_p95` says how far behind schedule the client
itself sent (a busy client machine); with `max_in_flight` requests outstanding, further sends are
counted as `dropped` rather than queued without bound.

Why not httpx here: its per-request cost (about a millisecond of Python) is of the same order as
the service's own, so on a small machine it measures the client. Requests are pre-encoded and
responses parsed just enough (status, Content-Length or chunked), which keeps the client cheap.

Run it from the shell:
    python -m trainer_agent.skills.serve.loadtest URL --qps 50 --seconds 30 [--body body.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.timing import percentiles


class _Pool:
    """Keep-alive connections to one host; opened on demand, reused when idle."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle:
            return self.idle.pop()
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.append(conn)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def _target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UserError(f"The load generator speaks plain http:// only, not {url!r}.")
    return parts.hostname, parts.port or 80


def _requests(host: str, port: int, examples: list[Any], headers: dict[str, str]) -> list[bytes]:
    """One pre-encoded POST /predict per example (one input each)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    out = []
    for example in examples:
        body = json.dumps({"inputs": [example]}).encode()
        head = (
            f"POST /predict HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _exchange(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], payload: bytes
) -> tuple[int, bool]:
    """Send one request and read its response; (status, whether the server closes)."""
    reader, writer = conn
    writer.write(payload)
    await writer.drain()
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    length, chunked, close = 0, False, False
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        key, _, value = line.decode("latin-1").partition(":")
        key = key.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif key == "connection":
            close = "close" in value.lower()
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    else:
        await reader.readexactly(length)
    return status, close


async def _one(pool: _Pool, payload: bytes, timeout: float) -> tuple[str | None, float]:
    """(error kind or None, seconds) of one request on a pooled connection."""
    sent = time.perf_counter()
    conn = None
    try:
        conn = await asyncio.wait_for(pool.get(), timeout)
        status, close = await asyncio.wait_for(_exchange(conn, payload), timeout)
    except asyncio.TimeoutError:
        kind: str | None = "timeout"
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as err:
        kind = type(err).__name__
    else:
        kind = None if status == 200 else f"http_{status}"
        if not close:
            pool.put(conn)
            conn = None
    if conn is not None:
        conn[1].close()
    return kind, time.perf_counter() - sent


def _summary(latencies: list[float], errors: dict[str, int], elapsed: float) -> dict[str, Any]:

    pct = percentiles(latencies)
    return {
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "achieved_qps": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": pct.get("p50"),
        "p95_ms": pct.get("p95"),
        "p99_ms": pct.get("p99"),
        "elapsed_s": round(elapsed, 3),
    }


async def _open_loop(
    url: str, payloads: list[bytes], rate: float, seconds: float, timeout: float, max_in_flight: int
) -> dict[str, Any]:
    pool = _Pool(*_target(url))
    n = max(1, int(round(rate * seconds)))
    latencies: list[float] = []
    late: list[float] = []
    errors: dict[str, int] = {}
    in_flight = 0
    last_done = 0.0

    async def one(k: int) -> None:
        nonlocal in_flight, last_done
        kind, took = await _one(pool, payloads[k % len(payloads)], timeout)
        in_flight -= 1
        last_done = max(last_done, time.perf_counter())
        if kind is None:
            latencies.append(took * 1000)
        else:
            errors[kind] = errors.get(kind, 0) + 1

    tasks = []
    start = time.perf_counter()
    for k in range(n):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        late.append(max(0.0, time.perf_counter() - due) * 1000)
        if in_flight >= max_in_flight:
            errors["dropped"] = errors.get("dropped", 0) + 1
            continue
        in_flight += 1
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    pool.close()

    elapsed = max(last_done, start + n / rate) - start
    return {
        "offered_qps": round(rate, 3),
        "seconds": seconds,
        "sent": len(tasks),
        **_summary(latencies, errors, elapsed),
        "late_ms_p95": percentiles(late).get("p95"),
        "max_in_flight": max_in_flight,
    }


async def _closed_loop(
    url: str, payloads: list[bytes], concurrency: int, seconds: float, timeout: float
) -> dict[str, Any]:
    pool = _Pool(*_target(url))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        i = k
        while time.perf_counter() < stop_at:
            kind, took = await _one(pool, payloads[i % len(payloads)], timeout)
            i += concurrency
            if kind is None:
                latencies.append(took * 1000)
            else:
                errors[kind] = errors.get(kind, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    pool.close()
    return {"concurrency": concurrency, **_summary(latencies, errors, time.perf_counter() - start)}


def _payloads(url: str, examples: list[Any], api_key: str | None) -> list[bytes]:
    if not examples:
        raise UserError("No examples to load the service with; the test set is empty.")
    headers = {"X-API-Key": api_key} if api_key else {}
    return _requests(*_target(url), list(examples), headers)


def load_test(
    url: str,
    examples: list[Any],
    rate: float,
    seconds: float = 30.0,
    api_key: str | None = None,
    timeout: float = 10.0,
    max_in_flight: int = 256,
) -> dict[str, Any]:
    """Open loop: one example per request to `url`/predict at `rate` requests/s for `seconds`.
    Returns offered and achieved QPS, p50/p95/p99 (ms, successful requests) and errors by kind."""
    if rate <= 0 or seconds <= 0:
        raise UserError(f"The load test needs a positive rate and duration, not {rate} QPS for {seconds} s.")
    payloads = _payloads(url, examples, api_key)
    return asyncio.run(_open_loop(url, payloads, rate, seconds, timeout, max_in_flight))


def closed_loop(
    url: str,
    examples: list[Any],
    concurrency: int,
    seconds: float = 2.0,
    api_key: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Closed loop: `concurrency` clients each send one example, wait for the answer, send the
    next, for `seconds`. Returns achieved QPS (the service's throughput at that concurrency),
    p50/p95/p99 and errors."""
    payloads = _payloads(url, examples, api_key)
    return asyncio.run(_closed_loop(url, payloads, concurrency, seconds, timeout))


def main(argv: list[str] | None = None) -> None:

    parser = argparse.ArgumentParser(
        prog="python -m trainer_agent.skills.serve.loadtest", description=__doc__.splitlines()[0]
    )
    parser.add_argument("url")
    parser.add_argument("--qps", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--body", help='JSON file {"inputs": [...]} whose inputs are sent one per request')
    args = parser.parse_args(argv)
    examples: list[Any] = ["a short example text"]
    if args.body:
        with open(args.body, encoding="utf-8") as f:
            examples = json.load(f)["inputs"]
    key = os.environ.get("TRAINER_AGENT_API_KEY")
    print(json.dumps(load_test(args.url, examples, args.qps, args.seconds, api_key=key), indent=2))


if __name__ == "__main__":
    main()
