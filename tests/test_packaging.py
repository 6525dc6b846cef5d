"""An installed copy works outside the repo: prompts, configs and demo data are package data, and
everything installs under one import namespace, `trainer_agent`, so it lives beside a package that
owns a generic name such as `agents` (the OpenAI Agents SDK's import name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

OTHER_AGENTS = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "another-agents-sdk"
version = "1.0"

[tool.setuptools]
packages = ["agents"]
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
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
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("trainer_agent-*.whl")
    return built


def test_wheel_carries_prompts_configs_and_demo_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for agent in ("task_agent", "data_agent", "model_agent", "server_agent"):
        assert f"trainer_agent/agents/prompts/{agent}.md" in names
    for data in (
        "configs/demo/request.txt",
        "configs/demo/fine_foods/train.csv",
        "configs/demo/fine_foods/test.csv",
        "configs/demo/fine_foods/README.md",
    ):
        assert f"trainer_agent/{data}" in names, data
    # every module of the four folders, subpackages included (agents.brains, skills.model, ...)
    for folder in ("agents", "skills", "sandbox", "configs"):
        for module in (ROOT / folder).rglob("*.py"):
            assert f"trainer_agent/{module.relative_to(ROOT).as_posix()}" in names, module
    assert "trainer_agent/sandbox/Dockerfile" in names
    # one top-level import name: nothing else lands in site-packages
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"trainer_agent"}
    # /docs and /redoc load Swagger UI and ReDoc from this dependency's package data, not a CDN
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "Requires-Dist: fastapi-offline" in zipfile.ZipFile(wheel).read(metadata).decode()
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


def test_the_wheel_installs_beside_a_package_that_owns_agents(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv with the wheel and another distribution whose import package is `agents`: both
    import, `trainer-agent --help` answers and a tiny run finishes, from outside the repository."""
    other = tmp_path / "other"
    (other / "agents").mkdir(parents=True)
    (other / "agents" / "__init__.py").write_text('OWNER = "another-agents-sdk"\n')
    (other / "pyproject.toml").write_text(OTHER_AGENTS)
    pip = [sys.executable, "-m", "pip"]
    quiet = ["--no-deps", "--no-build-isolation", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", *quiet, "-w", str(tmp_path), str(other)], check=True, capture_output=True)
    (other_wheel,) = tmp_path.glob("another_agents_sdk-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", *quiet, str(wheel), str(other_wheel)],
        check=True,
        capture_output=True,
    )
    # the dependencies come from this environment's site-packages as a plain path entry: its .pth
    # files (this checkout's editable install among them) are not processed there
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONWARNINGS": "ignore"}
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import agents, trainer_agent.agents.cli.main as m; print(agents.OWNER, m.__file__)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr
    owner, module = where.stdout.split()
    assert owner == "another-agents-sdk"
    assert Path(module).is_relative_to(site), module  # the installed copy, not this checkout

    cli = str(venv / "bin" / "trainer-agent")
    help_ = subprocess.run([cli, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert help_.returncode == 0 and "Usage: trainer-agent" in help_.stdout, help_.stderr

    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    iris.sample(frac=1.0, random_state=0).to_csv(tmp_path / "iris.csv", index=False)
    done = subprocess.run(
        [
            cli,
            "run",
            "Classify the iris species; accuracy at least 80%",
            "--data",
            str(tmp_path / "iris.csv"),
            "--label",
            "species",
            "--out",
            str(tmp_path / "runs"),
            "--sandbox",
            "local",
            "--llm",
            "offline",
            "--json",
        ],  # fmt: skip
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (report_file,) = (tmp_path / "runs").glob("*/report.json")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["decision"] == "accept" and report["metrics"]["accuracy"] >= 0.8, report["metrics"]
