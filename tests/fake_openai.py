"""A real OpenAI-compatible HTTP server on 127.0.0.1 that serves scripted chat completions.

    with FakeOpenAI({"task_agent": [call("parse_request"), say("Plan ...\\nNEXT: data_agent")]}) as srv:
        ... point an OpenAI client (or AG2) at srv.base_url with api_key=srv.api_key ...
    srv.requests  # every request: path, headers, JSON body, the agent it was for

Scripts are per agent (the agent is read from the system message: "You are the ... (`name`)")
or one list for every request. A step is a `Reply`: text, tool calls, a reply computed from the
request (`dynamic`), an HTTP error (`fail`: 500, 429, 401 ...) or a hang (`hang`: a timeout).
Usage is counted deterministically (characters / 4) and remembered, so tests can check totals.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_AGENT = re.compile(r"You are the [^\n]*?\(`(\w+)`\)")


@dataclass
class Reply:
    """One scripted answer to a chat-completion request."""

    content: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments JSON text)
    make: Callable[[dict[str, Any]], Reply] | None = None  # computes the reply from the request body
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def say(text: str) -> Reply:
    return Reply(content=text)


def call(name: str, arguments: str = "{}", content: str | None = None) -> Reply:
    return Reply(content=content, tool_calls=[(name, arguments)])


def dynamic(fn: Callable[[dict[str, Any]], Reply]) -> Reply:
    return Reply(make=fn)


def fail(status: int, message: str = "", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, error=message or f"scripted error {status}", headers=headers or {})


def hang(seconds: float) -> Reply:
    """Answer only after `seconds` (a client with a shorter timeout gives up first)."""
    return Reply(content="too late", delay=seconds)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    agent: str | None
    status: int = 0
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def tools(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])


def agent_of(body: dict[str, Any]) -> str | None:
    for message in body.get("messages") or []:
        if message.get("role") == "system":
            found = _AGENT.search(str(message.get("content") or ""))
            return found.group(1) if found else None
    return None


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeOpenAI:
    """The server. `script`: {agent: [Reply, ...]} or [Reply, ...] for requests in arrival order."""

    def __init__(
        self,
        script: dict[str, list[Reply]] | list[Reply] | None = None,
        api_key: str | None = "sk-fake-test-key-0123456789",
        model: str = "fake-model",
        echo_key_in_401: bool = True,
    ) -> None:
        self.script = script if script is not None else []
        self.api_key = api_key
        self.model = model
        self.echo_key_in_401 = echo_key_in_401
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    # -- what was received ----------------------------------------------------------------------
    def chat_requests(self, agent: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path.endswith("/chat/completions") and (agent is None or r.agent == agent)
        ]

    def usage_sent(self) -> dict[str, int]:
        """Tokens the server reported in successful answers (what a client should have counted)."""
        total = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        for r in self.chat_requests():
            if r.status == 200:
                total["calls"] += 1
                total["prompt_tokens"] += r.usage["prompt_tokens"]
                total["completion_tokens"] += r.usage["completion_tokens"]
        return total

    def remaining(self) -> dict[str, int] | int:
        if isinstance(self.script, dict):
            return {k: len(v) for k, v in self.script.items() if v}
        return len(self.script)

    # -- serving --------------------------------------------------------------------------------
    def _next(self, agent: str | None) -> Reply | None:
        with self._lock:
            queue = self.script.get(agent or "", []) if isinstance(self.script, dict) else self.script
            return queue.pop(0) if queue else None

    def _answer(self, body: dict[str, Any], record: Recorded) -> tuple[int, dict[str, Any], dict[str, str]]:
        reply = self._next(record.agent)
        if reply is None:
            return 400, _error(f"fake server: no scripted reply left for {record.agent}"), {}
        if reply.make is not None:
            reply = reply.make(body)
        if reply.delay:
            self._stop.wait(reply.delay)
        if reply.status != 200:
            return reply.status, _error(reply.error, code=str(reply.status)), reply.headers
        calls = [
            {
                "id": "call_" + uuid.uuid4().hex[:12],
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            for name, arguments in reply.tool_calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if calls:
            message["tool_calls"] = calls
        prompt = _tokens(json.dumps(body.get("messages"), ensure_ascii=False))
        completion = _tokens((reply.content or "") + "".join(n + a for n, a in reply.tool_calls))
        record.usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        answer = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:16],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
        return 200, answer, {}

    def _authorised(self, headers: dict[str, str]) -> tuple[bool, str]:
        given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        return (self.api_key is None or given == self.api_key), given

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                    pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Recorded(method, self.path, headers, body, agent_of(body))
                with fake._lock:
                    fake.requests.append(record)
                ok, given = fake._authorised(headers)
                extra: dict[str, str]
                if not ok:
                    shown = given if fake.echo_key_in_401 else "***"
                    status, payload, extra = (
                        401,
                        _error(f"Incorrect API key provided: {shown}", "invalid_api_key"),
                        {},
                    )
                elif method == "GET" and self.path.rstrip("/").endswith("/models"):
                    status, payload, extra = 200, {"object": "list", "data": [{"id": fake.model}]}, {}
                elif method == "POST" and self.path.rstrip("/").endswith("/chat/completions"):
                    status, payload, extra = fake._answer(body, record)
                else:
                    status, payload, extra = 404, _error(f"no route {method} {self.path}"), {}
                record.status = status
                self._send(status, payload, extra)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        return Handler


def _error(message: str, code: str = "error") -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
