"""Training and export run as jobs in the sandbox: the same run gives the same report in Docker
and in the local executor, and the container is gone afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.sandbox_conftest_helpers import require_docker

REQUEST = "Tell whether a review is great. Accuracy at least 70%, under 1M parameters"


def _run(sandbox: str, data: tuple[Path, Path], out: Path) -> dict:
    train, test = data
    result = run_cli(
        "run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(out),
        "--sandbox", sandbox, "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _comparable(report: dict) -> dict:
    """What must not depend on where the jobs ran."""
    keys = ("decision", "metrics", "model")
    return {
        **{k: report[k] for k in keys},
        "requirements": [(r["name"], r["achieved"], r["met"]) for r in report["requirements"]],
        "parity": report["exports"]["parity"],
    }


@pytest.mark.docker
def test_docker_and_local_sandboxes_give_the_same_report(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    client = require_docker()
    docker_report = _run("docker", fine_foods_small, tmp_path / "docker")
    local_report = _run("local", fine_foods_small, tmp_path / "local")
    assert docker_report["sandbox"].startswith("Docker executor")
    assert local_report["sandbox"].startswith("local executor")
    assert _comparable(docker_report) == _comparable(local_report)
    run_dir = Path(docker_report["run_dir"])
    events = [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]
    jobs = [e["job"] for e in events if e.get("event") == "job_done"]
    assert jobs == ["train", "export"]
    assert (run_dir / "jobs" / "train.spec.json").read_text().count(
        "/workspace"
    ) >= 2  # paths as the job saw them
    from trainer_agent.sandbox.docker_sandbox import LABEL, WORKSPACE_LABEL

    leftovers = [
        c for c in client.containers.list(all=True, filters={"label": LABEL})
        if c.labels.get(WORKSPACE_LABEL) == str(run_dir)
    ]  # fmt: skip
    assert leftovers == []


def test_local_sandbox_reports_itself_as_less_isolated(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    report = _run("local", fine_foods_small, tmp_path)
    assert "less isolated" in report["sandbox"]
    md = (Path(report["run_dir"]) / "report.md").read_text()
    assert "**Sandbox:** local executor" in md


def test_missing_image_docker_fails_in_one_sentence_and_auto_falls_back(tmp_path: Path) -> None:
    from trainer_agent.sandbox.config import SandboxConfig
    from trainer_agent.sandbox.select import make_sandbox
    from trainer_agent.skills.errors import UserError

    config = SandboxConfig(image="trainer-agent-sandbox:no-such-tag")
    with pytest.raises(UserError, match="--sandbox docker cannot be used"):
        make_sandbox("docker", tmp_path, config)
    fallback = make_sandbox("auto", tmp_path, config)
    assert fallback.kind == "local" and "local executor, because" in fallback.description
