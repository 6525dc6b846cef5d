"""Jobs and services get an allow-listed environment (skills/child_env.py): no LLM key, no
OAI_CONFIG_LIST, no cloud credentials, read from /proc/<pid>/environ of the running processes;
and `run --serve` protects its service with TRAINER_AGENT_API_KEY, as `serve` does."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.conftest_models import trained
from trainer_agent.sandbox.local import LocalSandbox
from trainer_agent.skills.child_env import allowed, child_env
from trainer_agent.skills.serve.deploy import start_service, stop_service

LEAKS = {
    "OPENAI_API_KEY": "sk-test-openai-0123456789",
    "OAI_CONFIG_LIST": '[{"model": "gpt-4o", "api_key": "sk-test-oai-config-0123"}]',
    "AWS_ACCESS_KEY_ID": "AKIATESTTESTTEST",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-0123456789",
    "AZURE_OPENAI_API_KEY": "azure-test-0123456789",
    "HF_TOKEN": "hf_test_0123456789",
    "GITHUB_TOKEN": "ghp_test0123456789",
    "TRAINER_AGENT_DB_PASSWORD": "db-password-0123",
}
REQUEST = "Tell whether a review is great. Accuracy at least 70%, under 1M parameters"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if b"=" in item)


def _assert_clean(env: dict[str, str]) -> None:
    assert not set(LEAKS) & set(env), sorted(set(LEAKS) & set(env))
    for value in LEAKS.values():
        assert all(value not in v for v in env.values())


@pytest.fixture
def leaky_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LEAKS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


def test_the_allow_list() -> None:
    for name in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "TRAINER_AGENT_HOME",
                 "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM",
                 "CUDA_VISIBLE_DEVICES"):  # fmt: skip
        assert allowed(name), name
    for name in (*LEAKS, "TRAINER_AGENT_API_KEY", "OPENAI_BASE_URL", "AWS_REGION", "SSH_AUTH_SOCK",
                 "PYTHON_KEYRING_TOKEN", "MKL_LICENSE_KEY", "DOCKER_HOST"):  # fmt: skip
        assert not allowed(name), name
    assert child_env({"TRAINER_AGENT_API_KEY": "k"})["TRAINER_AGENT_API_KEY"] == "k"


def test_a_running_service_sees_no_secret_but_its_own_key(
    leaky_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINER_AGENT_API_KEY", "the-callers-key")  # not the one the service is given
    model = trained("wine_mixed", export=True).export.onnx_path
    deployment = start_service(model, tmp_path, timeout=60, api_key="service-key-0123")
    try:
        env = _environ(deployment.pid)
        _assert_clean(env)
        assert env["TRAINER_AGENT_API_KEY"] == "service-key-0123"
        assert env["OMP_NUM_THREADS"] == "1" and env["LC_ALL"] == "C.UTF-8" and "PATH" in env
        assert env["TRAINER_AGENT_HOME"] == os.environ["TRAINER_AGENT_HOME"]
    finally:
        stop_service(tmp_path)


def test_a_running_local_job_sees_no_secret(leaky_env: None, tmp_path: Path) -> None:
    sandbox = LocalSandbox(tmp_path)
    seen: dict[str, dict[str, str]] = {}

    def on_output(line: str) -> None:
        if line.strip().isdigit() and "env" not in seen:
            seen["env"] = _environ(int(line))  # read while the job runs
            (tmp_path / "done").touch()

    script = (
        "import os, time\n"
        "print(os.getpid(), flush=True)\n"
        "deadline = time.time() + 60\n"
        "while not os.path.exists('done') and time.time() < deadline: time.sleep(0.02)\n"
    )
    result: dict = {}
    worker = threading.Thread(
        target=lambda: result.update(
            r=sandbox.run([sys.executable, "-c", script], timeout=90, on_output=on_output)
        )
    )
    worker.start()
    worker.join(90)
    assert result["r"].exit_code == 0, result["r"].output
    env = seen["env"]
    _assert_clean(env)
    assert "TRAINER_AGENT_API_KEY" not in env
    assert env["PYTHONUNBUFFERED"] == "1" and env["OMP_NUM_THREADS"] == "1"
    assert env["PATH"].startswith(os.path.dirname(sys.executable))


def test_run_serve_needs_the_api_key_and_leaks_nothing(
    fine_foods_small: tuple[Path, Path], tmp_path: Path, leaky_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "run-serve-key-0123456789"
    monkeypatch.setenv("TRAINER_AGENT_API_KEY", key)
    train, test = fine_foods_small
    result = run_cli(
        "run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(tmp_path),
        "--sandbox", "local", "--llm", "offline", "--serve", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    run_dir = Path(report["run_dir"])
    try:
        assert report["service"]["running"] and report["service"]["smoke"]["ok"]
        url = report["service"]["url"]
        body = {"inputs": ["Delicious, I reorder every month."]}
        assert httpx.post(f"{url}/predict", json=body, timeout=10).status_code == 401
        assert (
            httpx.post(f"{url}/predict", json=body, headers={"X-API-Key": key}, timeout=10).status_code == 200
        )
        pid = json.loads((run_dir / "service" / "service.json").read_text())["pid"]
        env = _environ(pid)
        _assert_clean(env)
        assert env["TRAINER_AGENT_API_KEY"] == key
    finally:
        assert run_cli("stop", str(run_dir)).code == 0
    # the key and the leaked secrets are in no file of the run
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md", ".log", ".txt", ".yaml", ".csv"):
            text = path.read_text(errors="replace")
            assert key not in text, path
            assert not any(value in text for value in LEAKS.values()), path
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
