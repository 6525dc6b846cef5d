"""`trainer-agent data annotate --llm`: a paid step, so it asks for the `paid_annotation` approval
first; then real HTTP calls to an OpenAI-compatible server (tests/fake_openai.py on 127.0.0.1)
label the pool. Denied: exit 2 and not one request sent. The API key appears nowhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import run_cli
from tests.fake_openai import FakeOpenAI, Reply, dynamic, fail

KEY = "sk-fake-annotate-key-42"
POOL = ["I love this tea", "stale and bitter", "best coffee ever", "arrived broken", "no idea", "great value"]


def _label(body: dict[str, Any]) -> Reply:
    """Answer like a careful LLM: a JSON line per item; abstains on 'no idea'."""
    prompt = body["messages"][-1]["content"]
    items = re.findall(r"^(\d+)\. (\".*\")$", prompt, flags=re.M)
    lines = []
    for number, quoted in items:
        text = json.loads(quoted)
        if "idea" in text:
            lines.append(json.dumps({"item": int(number), "label": "ABSTAIN", "confidence": 0.0}))
            continue
        good = any(w in text for w in ("love", "best", "great"))
        lines.append(
            json.dumps({"item": int(number), "label": "great" if good else "other", "confidence": 0.95})
        )
    return Reply(content="\n".join(lines))


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    path = tmp_path / "pool.csv"
    pd.DataFrame({"review": POOL}).to_csv(path, index=False)
    return path


def _config(tmp_path: Path, server: FakeOpenAI) -> Path:
    path = tmp_path / "llm.yaml"
    path.write_text(
        f"default:\n  model: fake-model\n  base_url: {server.base_url}\n  api_key_env: ANNOTATE_KEY\n"
        "  max_retries: 0\n  price: [0.5, 1.5]\n"
    )
    return path


def _annotate(tmp_path: Path, pool: Path, config: Path, *extra: str) -> Any:
    import os

    os.environ["ANNOTATE_KEY"] = KEY
    try:
        return run_cli(
            "data", "annotate", str(pool), "--out", str(tmp_path / "out.csv"), "--text", "review",
            "--label", "score", "--classes", "great,other", "--llm", f"config:{config}",
            "--batch-size", "4", *extra,
        )  # fmt: skip
    finally:
        os.environ.pop("ANNOTATE_KEY", None)


def test_approved_llm_annotation_labels_the_pool_over_http(tmp_path: Path, pool: Path) -> None:
    with FakeOpenAI([dynamic(_label), dynamic(_label)], api_key=KEY) as server:
        result = _annotate(tmp_path, pool, _config(tmp_path, server), "--approve", "auto")
        assert result.code == 0, result.stderr
        assert len(server.chat_requests()) == 2  # 6 rows, 4 per call
        sent = server.usage_sent()
    out = pd.read_csv(tmp_path / "out.csv")
    labelled = dict(zip(out["review"], out["score"], strict=True))
    assert labelled["I love this tea"] == "great" and labelled["arrived broken"] == "other"
    assert pd.isna(labelled["no idea"])  # abstained: set aside for a person
    assert set(out["annotated_by"]) == {"llm", "needs_review"}
    assert "paid annotation approved (policy: --approve auto)" in result.stdout
    assert (
        f"{sent['prompt_tokens']:,} prompt and {sent['completion_tokens']:,} completion tokens"
        in result.stdout
    )
    assert "USD" in result.stdout
    assert KEY not in result.stdout + result.stderr


def test_denied_paid_annotation_sends_nothing(tmp_path: Path, pool: Path) -> None:
    with FakeOpenAI([dynamic(_label)], api_key=KEY) as server:
        config = _config(tmp_path, server)
        never = _annotate(tmp_path, pool, config, "--approve", "never")
        nobody = _annotate(tmp_path, pool, config)  # default `ask`, and no terminal to ask
        assert server.chat_requests() == []
    for result in (never, nobody):
        assert result.code == 2, result.stderr
        assert "not approved: send 6 rows' text to fake-model" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "no terminal to ask" in nobody.stderr
    assert not (tmp_path / "out.csv").exists()


def test_a_rejected_key_is_one_sentence_without_the_key(tmp_path: Path, pool: Path) -> None:
    with FakeOpenAI([fail(401, f"Incorrect API key provided: {KEY}")], api_key=KEY) as server:
        result = _annotate(tmp_path, pool, _config(tmp_path, server), "--approve", "auto")
    assert result.code == 1
    assert "answered HTTP 401; nothing more was sent" in result.stderr
    assert KEY not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()
