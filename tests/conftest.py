"""Shared fixtures: small real data sets and a way to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
FINE_FOODS = ROOT / "configs" / "demo" / "fine_foods"


@pytest.fixture(scope="session", autouse=True)
def _own_library(tmp_path_factory: pytest.TempPathFactory):
    """Every run registers its model in the library under $TRAINER_AGENT_HOME, and later runs reuse
    or warm-start from it: the tests use a library of their own, never the person's
    ~/.trainer-agent (and a fresh one per test, below, so no test depends on another's runs)."""
    before = os.environ.get("TRAINER_AGENT_HOME")
    os.environ["TRAINER_AGENT_HOME"] = str(tmp_path_factory.mktemp("library"))
    yield
    if before is None:
        os.environ.pop("TRAINER_AGENT_HOME", None)
    else:
        os.environ["TRAINER_AGENT_HOME"] = before


@pytest.fixture(autouse=True)
def _fresh_library(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path_factory.mktemp("library")))
    # the model library too: no installed model package (e.g. the pretrained extra's MiniLM) is
    # found unless a test turns packages back on (tests/test_model_pretrained.py)
    monkeypatch.delenv("TRAINER_AGENT_MODELS", raising=False)
    monkeypatch.setenv("TRAINER_AGENT_MODEL_PACKAGES", "off")


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def live(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def processes_naming(text: str) -> list[int]:
    """Live processes whose command line mentions `text` (jobs and the service name the run
    directory in theirs)."""
    pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    return [pid for pid in pids if text.encode() in cmdline(pid) and live(pid)]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> CliResult:
    """Run `trainer-agent ARGS` in a fresh process, as a person would."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}  # rich wraps at 80 otherwise
    proc = subprocess.run(
        [sys.executable, "-m", "trainer_agent.agents.cli", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def fine_foods_small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real subset of fine_foods: 800 training and 250 test reviews."""
    folder = tmp_path_factory.mktemp("fine_foods_small")
    train = pd.read_csv(FINE_FOODS / "train.csv").sample(n=800, random_state=0)
    test = pd.read_csv(FINE_FOODS / "test.csv").sample(n=250, random_state=0)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv"


@pytest.fixture(scope="session")
def wine_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's wine data as a CSV with a string label column `cultivar`."""
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    df = bunch.frame.rename(columns={"target": "cultivar"})
    df["cultivar"] = df["cultivar"].map(lambda i: f"class_{i}")
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    df.to_csv(path, index=False)
    return path
