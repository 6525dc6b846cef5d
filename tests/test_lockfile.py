"""The lock (constraints.txt, sandbox/lockfile.py): this environment is the one that was tested, the
lock covers everything the project needs, and each way of drifting from it is named in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer_agent.sandbox import lockfile

ROOT = Path(__file__).resolve().parent.parent


def test_the_lock_pins_every_package_the_project_needs() -> None:
    lock = lockfile.read_lock(ROOT / "constraints.txt")
    needed = lockfile.closure(lockfile.PROJECT_DIST, lockfile.LOCKED_EXTRAS)
    for key in ("numpy", "onnxruntime", "onnx", "scikit-learn", "torch", "autogen", "pytest", "ruff"):
        assert key in lock, key
        assert key in needed, key
    assert "trainer-agent" not in lock and "pip" not in lock
    assert "setuptools" in lock  # torch needs it at run time: the sandbox image installs it too
    assert lockfile.lock_python(ROOT / "constraints.txt") == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_this_environment_is_the_locked_one() -> None:
    if os.environ.get("TRAINER_AGENT_LOCK") == "none":
        pytest.skip("scripts/fresh_test --newest runs the newest releases on purpose, to refresh the lock")
    lock = lockfile.read_lock(ROOT / "constraints.txt")
    needed = set(lockfile.closure(lockfile.PROJECT_DIST, lockfile.LOCKED_EXTRAS))
    assert lockfile.differences(lock, lockfile.installed(), needed) == []


def test_differences_name_a_moved_version_and_an_unlocked_need_but_no_stray() -> None:
    lock = {"numpy": "2.3.1", "onnx": "1.19.0"}
    have = {
        "numpy": ("numpy", "2.4.6"),
        "onnx": ("onnx", "1.19.0"),
        "lightgbm": ("lightgbm", "4.7.0"),
        "ipython": ("ipython", "9.0.0"),
        "setuptools": ("setuptools", "66.1.1"),
    }
    lock["setuptools"] = "84.2.1"  # a venv's own setuptools that nothing needs: not the project's business
    found = lockfile.differences(lock, have, needed={"numpy", "onnx", "lightgbm"})
    assert found == ["lightgbm 4.7.0 (not in the lock)", "numpy 2.4.6 (the lock has 2.3.1)"]


def test_render_and_read_round_trip(tmp_path: Path) -> None:
    have = {"scikit-learn": ("scikit-learn", "1.9.1"), "torch": ("torch", "2.13.0+cpu")}
    path = tmp_path / "constraints.txt"
    path.write_text(lockfile.render(have, "scripts/fresh_test --newest"))
    assert lockfile.read_lock(path) == {"scikit-learn": "1.9.1", "torch": "2.13.0+cpu"}
    assert "scripts/fresh_test --newest" in path.read_text()
    assert lockfile.check_pins(["scikit_learn==1.9.1", "torch==2.13.0+cpu"], path) == []
    assert lockfile.check_pins(["Torch==2.14.1"], path) == ["Torch 2.14.1 (the lock has 2.13.0+cpu)"]
    path.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="'numpy>=2' is not a 'name==version' pin"):
        lockfile.read_lock(path)


def _lockfile_cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "trainer_agent.sandbox.lockfile", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_another_python_or_a_missing_lock_gets_one_sentence(tmp_path: Path) -> None:
    other = tmp_path / "constraints.txt"
    other.write_text("# python: 3.99 (CPython 3.99.0, Linux x86_64)\nnumpy==2.4.6\n")
    out = _lockfile_cli("interpreter", "--lock", str(other))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "was tested on Python 3.99" in out.stderr
    assert "TRAINER_AGENT_LOCK=none" in out.stderr
    ours = _lockfile_cli("interpreter", "--lock", str(ROOT / "constraints.txt"))
    assert ours.returncode == 0, ours.stderr
    missing = _lockfile_cli("check", "--lock", str(tmp_path / "nope.txt"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_check_names_the_packages_that_drifted(tmp_path: Path) -> None:
    lock = tmp_path / "constraints.txt"
    pins = dict(lockfile.installed())
    pins["numpy"] = ("numpy", "0.0.1")
    lock.write_text(lockfile.render(pins, "test"))
    out = _lockfile_cli("check", "--lock", str(lock))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "differs from constraints.txt in 1 package(s): numpy" in out.stderr
    assert "(the lock has 0.0.1)" in out.stderr


def test_setup_refuses_a_lock_for_another_python_before_touching_the_venv(tmp_path: Path) -> None:
    other = tmp_path / "constraints.txt"
    other.write_text("# python: 3.99 (CPython 3.99.0, Linux x86_64)\nnumpy==2.4.6\n")
    stamp = ROOT / ".venv" / ".trainer-agent-installed"
    before = stamp.read_text() if stamp.exists() else None
    env = {**os.environ, "TRAINER_AGENT_LOCK": str(other), "PYTHON": sys.executable}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup")], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "was tested on Python 3.99" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "installing" not in out.stderr
    assert (stamp.read_text() if stamp.exists() else None) == before


def test_scripts_setup_runs_it_by_path_with_the_system_python() -> None:
    """scripts/setup runs `python3 sandbox/lockfile.py interpreter` before any venv exists: run by
    path, its folder comes first on sys.path, where sandbox/select.py shadows the stdlib's select."""
    import subprocess

    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            str(ROOT / "sandbox" / "lockfile.py"),
            "interpreter",
            "--lock",
            "constraints.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
