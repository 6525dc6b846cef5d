"""`transcript.jsonl`: one JSON object per message, tool call, tool result and event.

Secrets never reach the file: every value of an environment variable whose name looks like a
secret (…KEY, …TOKEN, …SECRET, …PASSWORD), and every secret registered with `add_secret`, is
replaced by `***` before a line is written.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_registered: set[str] = set()


def add_secret(value: str | None) -> None:
    if value and len(value) >= 6:
        _registered.add(value)


def _secrets() -> list[str]:
    from_env = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and v and len(v) >= 8}
    return sorted(from_env | _registered, key=len, reverse=True)


def redact(text: str) -> str:
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text


class Transcript:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seq = 0  # index of the chat message a record belongs to (one message: several records)

    def write(self, record: dict[str, Any]) -> None:
        record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **record}
        line = redact(json.dumps(record, default=str, ensure_ascii=False))
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def message(self, speaker: str, message: dict[str, Any]) -> None:
        """Record a group-chat message; tool calls and tool results get their own types."""
        seq, self.seq = self.seq, self.seq + 1
        if message.get("tool_calls"):
            for call in message["tool_calls"]:
                fn = call.get("function", {})
                self.write(
                    {
                        "type": "tool_call",
                        "seq": seq,
                        "speaker": speaker,
                        "id": call.get("id"),
                        "tool": fn.get("name"),
                        "arguments": fn.get("arguments"),
                    }
                )
            if message.get("content") in (None, "", "None"):
                return
        if message.get("tool_responses"):
            for resp in message["tool_responses"]:
                self.write(
                    {
                        "type": "tool_result",
                        "seq": seq,
                        "speaker": speaker,
                        "id": resp.get("tool_call_id"),
                        "content": resp.get("content"),
                    }
                )
            return
        self.write({"type": "message", "seq": seq, "speaker": speaker, "content": message.get("content")})

    def event(self, kind: str, **data: Any) -> None:
        self.write({"type": "event", "event": kind, **data})

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
