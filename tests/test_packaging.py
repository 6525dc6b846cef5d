"""An installed copy works outside the repo: prompts, configs and demo data are package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_carries_prompts_configs_and_demo_data(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("trainer_agent-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for agent in ("task_agent", "data_agent", "model_agent", "server_agent"):
        assert f"agents/prompts/{agent}.md" in names
    for data in (
        "configs/demo/request.txt",
        "configs/demo/fine_foods/train.csv",
        "configs/demo/fine_foods/test.csv",
        "configs/demo/fine_foods/README.md",
    ):
        assert data in names, data
    # every module of the four folders, subpackages included (agents.brains, skills.model, ...)
    for folder in ("agents", "skills", "sandbox", "configs"):
        for module in (ROOT / folder).rglob("*.py"):
            assert module.relative_to(ROOT).as_posix() in names, module
    assert "sandbox/Dockerfile" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "trainer-agent = trainer_agent.agents.cli.main:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_demo_inputs_resolve_through_package_resources() -> None:
    from trainer_agent.agents.cli.main import demo_inputs

    request, train, test = demo_inputs()
    assert "accuracy" in request.lower()
    assert train.is_file() and test.is_file()
