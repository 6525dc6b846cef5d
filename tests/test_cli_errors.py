"""Bad input gets one clear sentence on stderr and exit 1; never a traceback, never a run that
looks finished. Plus --help speed and resuming a run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

REQUEST = "Classify reviews as great or other, accuracy at least 70%"


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _reviews(n: int, label: str | None = None) -> str:
    rows = ["review,score"]
    for i in range(n):
        rows.append(
            f"this product number {i} was {'lovely' if i % 2 else 'awful'} to eat,"
            f"{label or ('great' if i % 2 else 'other')}"
        )
    return "\n".join(rows) + "\n"


BAD_INPUTS = {
    "missing file": (lambda d: d / "nope.csv", ["nope.csv", "does not exist"]),
    "empty file": (lambda d: _write(d / "empty.csv", ""), ["empty.csv"]),
    "header only": (lambda d: _write(d / "header.csv", "review,score\n"), ["header.csv", "no data rows"]),
    "non-UTF-8": (
        lambda d: _write(
            d / "latin1.csv", _reviews(30).encode() + "caf\xe9 tr\xe8s bon,great\n".encode("latin-1")
        ),
        ["latin1.csv", "UTF-8"],
    ),
    "single class": (
        lambda d: _write(d / "one.csv", _reviews(40, label="great")),
        ["only one class", "great"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_sentence_and_exit_1(case: str, tmp_path: Path) -> None:
    make, expected = BAD_INPUTS[case]
    data = make(tmp_path)
    out = tmp_path / "runs"
    result = run_cli("run", REQUEST, "--data", str(data), "--label", "score", "--out", str(out), "--json")
    assert result.code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for fragment in expected:
        assert fragment in err, err
    if case == "missing file":  # refused before a run directory is made
        assert not out.exists() or not any(out.iterdir())
    for run_dir in out.glob("*"):
        assert not (run_dir / "report.json").exists()
        assert json.loads((run_dir / "state.json").read_text())["status"] == "failed"


def test_missing_label_column_names_the_column(tmp_path: Path) -> None:
    data = _write(tmp_path / "reviews.csv", _reviews(40))
    result = run_cli("run", REQUEST, "--data", str(data), "--label", "stars", "--out", str(tmp_path / "runs"))
    assert result.code == 1
    assert "'stars'" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_llm_is_refused_in_one_sentence(tmp_path: Path) -> None:
    result = run_cli("run", REQUEST, "--llm", "gpt-9", "--out", str(tmp_path))
    assert result.code == 1 and "gpt-9" in result.stderr


def test_help_is_instant() -> None:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "trainer_agent.agents.cli", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0 and "run" in proc.stdout and "demo" in proc.stdout
    assert elapsed < 1.5, f"--help took {elapsed:.2f} s"
    heavy = "('autogen', 'pandas', 'sklearn', 'onnxruntime', 'torch')"
    probe = (
        f"import trainer_agent.agents.cli.main, sys; print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True).stdout
    assert loaded.strip() == "[]"


def test_resume_finishes_an_interrupted_run_without_redoing_work(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    first = run_cli(
        "run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(tmp_path), "--json"
    )
    assert first.code == 0, first.stderr
    report = json.loads(first.stdout)
    run_dir = Path(report["run_dir"])
    # Make it look like the process died after training: later steps and the report are gone.
    state = json.loads((run_dir / "state.json").read_text())
    for step in ("export", "serve", "report"):
        state["steps"].pop(step)
    state["status"] = "running"
    (run_dir / "state.json").write_text(json.dumps(state))
    (run_dir / "report.json").unlink()
    trained_at = (run_dir / "models" / "model.joblib").stat().st_mtime_ns

    again = run_cli("resume", str(run_dir), "--json")
    assert again.code == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert resumed["metrics"] == report["metrics"]
    assert (run_dir / "models" / "model.joblib").stat().st_mtime_ns == trained_at
    events = [json.loads(line) for line in (run_dir / "transcript.jsonl").read_text().splitlines()]
    resumed_at = max(i for i, e in enumerate(events) if e.get("event") == "resumed")
    calls_after = [e["tool"] for e in events[resumed_at:] if e["type"] == "tool_call"]
    assert calls_after == ["export_model", "deploy_service", "write_report"]


def test_resume_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = run_cli("resume", str(tmp_path))
    assert result.code == 1 and "not a run directory" in result.stderr


def test_a_hub_model_that_cannot_be_downloaded_is_one_sentence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without network, but at once
    data = _write(tmp_path / "reviews.csv", _reviews(60))
    result = run_cli(
        "run", REQUEST, "--data", str(data), "--label", "score", "--model-dir", "hub:prajjwal1/bert-tiny",
        "--sandbox", "local", "--out", str(tmp_path / "runs"), "--json",
    )  # fmt: skip
    assert result.code == 1, result.stdout + result.stderr
    err = result.stderr.strip()
    assert "could not download prajjwal1/bert-tiny from the Hugging Face hub" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "report.json").exists()
    assert json.loads((run_dir / "state.json").read_text())["status"] == "failed"
