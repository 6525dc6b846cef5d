"""`trainer-agent serve / status / loadtest / stop / package` on a run directory, as a person runs
them (a fresh process each), with a real background service on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.conftest_models import as_run, trained


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return as_run(trained("wine_mixed", export=True), tmp_path_factory.mktemp("cli") / "run")


def test_serve_status_loadtest_stop(run_dir):
    down = run_cli("status", str(run_dir))
    assert down.code == 3 and "not running: no service recorded" in down.stdout
    started = run_cli("serve", str(run_dir), "--json")
    try:
        assert started.code == 0, started.stderr
        deployment = json.loads(started.stdout)
        assert deployment["running"] and deployment["url"].startswith("http://127.0.0.1:")
        status = run_cli("status", str(run_dir), "--json")
        assert status.code == 0, status.stderr
        info = json.loads(status.stdout)
        assert info["running"] and info["pid"] == deployment["pid"]
        assert info["health"] == 200 and info["ready"] == 200 and info["peak_rss_mb"] > 20
        assert info["model"]["labels"] == ["a", "b", "c"]
        load = run_cli("loadtest", str(run_dir), "--qps", "20", "--seconds", "1", "--json")
        assert load.code == 0, load.stderr
        result = json.loads(load.stdout)
        assert result["sent"] == 20 and result["ok"] == 20 and result["errors"] == 0
        text = run_cli("status", str(run_dir))
        assert text.stdout.startswith(f"running: {deployment['url']}")
    finally:
        stopped = run_cli("stop", str(run_dir))
    assert "service stopped" in stopped.stdout
    assert run_cli("status", str(run_dir)).code == 3
    after = run_cli("loadtest", str(run_dir), "--qps", "5")
    assert after.code == 1 and "no service is running" in after.stderr


def test_package_writes_the_dockerfile(run_dir):
    r = run_cli("package", str(run_dir), "--no-build", "--json")
    assert r.code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["dockerfile"] == str(run_dir / "service" / "Dockerfile") and not info["built"]
    assert info["image"].startswith("trainer-agent-service-run:")
    assert "FROM ${BASE_IMAGE}" in (run_dir / "service" / "Dockerfile").read_text()


def test_commands_refuse_what_is_not_a_run(tmp_path):
    for command in ("serve", "status", "package"):
        r = run_cli(command, str(tmp_path))
        assert r.code == 1 and "is not a run directory: it has no state.json" in r.stderr, command
    (tmp_path / "state.json").write_text(json.dumps({"steps": {}}))
    r = run_cli("serve", str(tmp_path))
    assert r.code == 1 and "has no exported model yet" in r.stderr


def test_exposing_or_packaging_needs_approval(run_dir):
    exposed = run_cli("serve", str(run_dir), "--host", "0.0.0.0", "--approve", "never")
    assert exposed.code == 2, exposed.stderr
    assert "not approved: serve the model on 0.0.0.0" in exposed.stderr and "Traceback" not in exposed.stderr
    built = run_cli("package", str(run_dir), "--approve", "never")
    assert built.code == 2 and "not approved: build a Docker image" in built.stderr
    records = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    decisions = {(r["kind"], r["decision"]) for r in records if r.get("type") == "approval"}
    assert {("expose_service", "deny"), ("build_image", "deny")} <= decisions
    assert run_cli("status", str(run_dir)).code == 3  # nothing was started
