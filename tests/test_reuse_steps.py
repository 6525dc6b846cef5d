"""`run --reuse`: a repeated request takes every step's artefacts from the first run (checked by
SHA-256) instead of doing the work again; a changed data file is not reused (skills.step_cache,
agents.step_reuse). Real runs on the wine data, a small tabular set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli
from trainer_agent.skills.step_cache import Record, file_sha256, restore, save_record, step_key

REQUEST = "Predict the cultivar (label column cultivar). Accuracy at least 80%."
FAST = ("--sandbox", "local", "--llm", "offline", "--max-trials", "1", "--max-epochs", "1", "--json")
STEPS = ("parse", "data", "train", "export", "serve")


def _run(data: Path, out: Path, *extra: str) -> dict:
    result = run_cli("run", REQUEST, "--data", str(data), "--out", str(out), *FAST, *extra, timeout=600)
    assert result.code == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def first(wine_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The first run, in a library of its own that the tests below share."""
    home = tmp_path_factory.mktemp("reuse_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRAINER_AGENT_HOME", str(home))
        report = _run(wine_csv, tmp_path_factory.mktemp("first"))
    return home, report


@pytest.mark.slow
def test_a_repeated_request_reuses_every_step(first, wine_csv, tmp_path, monkeypatch):
    home, before = first
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(home))
    again = _run(wine_csv, tmp_path, "--reuse")

    assert again["run_id"] != before["run_id"]
    for step in STEPS:
        entry = again["reused"][step]
        assert entry["reused"] is True, (step, entry)
        assert entry["from_run"] == before["run_id"] and len(entry["key"]) == 64
    # the same model and the same measurements, from files in this run directory
    old, new = Path(before["run_dir"]), Path(again["run_dir"])
    model = next(p.name for p in (old / "models").iterdir() if p.stem == "model" and p.suffix != ".json")
    assert file_sha256(new / "models" / model) == file_sha256(old / "models" / model)
    assert file_sha256(new / "exports" / "model.onnx") == file_sha256(old / "exports" / "model.onnx")
    assert again["exports"]["onnx"] == str(new / "exports" / "model.onnx")  # paths are this run's
    assert again["metrics"] == before["metrics"] and again["requirements"] == before["requirements"]
    for step in STEPS:  # every reused file is in this run directory, as recorded
        for rel, digest in again["reused"][step]["files"].items():
            if rel not in ("model_card.md",):  # the report fills in its requirements table again
                assert file_sha256(new / rel) == digest, rel
    text = (new / "report.md").read_text(encoding="utf-8")
    assert "## Reused (--reuse)" in text and f"- train: reused from run {before['run_id']}" in text
    assert again["durations"]["train"] < before["durations"]["train"]
    # nothing was left to do, so the agents were not started; the transcript says so
    assert "the agents were not started" in again["brain"]
    events = [
        json.loads(line) for line in (new / "transcript.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [e["step"] for e in events if e.get("event") == "step_reused"] == list(STEPS)
    assert any(e.get("event") == "reused_without_agents" for e in events)
    replayed = run_cli("replay", str(new), "--out", str(tmp_path / "replays"))
    assert replayed.code == 1 and "no conversation to replay" in replayed.stderr
    assert "Traceback" not in replayed.stderr


@pytest.mark.slow
def test_a_changed_row_is_not_reused(first, wine_csv, tmp_path, monkeypatch):
    home, before = first
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(home))
    df = pd.read_csv(wine_csv)
    df.loc[0, "alcohol"] = float(df.loc[0, "alcohol"]) + 0.5  # one value of one row
    changed = tmp_path / "wine.csv"
    df.to_csv(changed, index=False)
    again = _run(changed, tmp_path / "runs", "--reuse")
    for step in ("parse", "data", "train"):
        entry = again["reused"][step]
        assert entry["reused"] is False and entry["why"], (step, entry)
    assert "not started" not in again["brain"]  # the agents did the work
    assert again["run_id"] != before["run_id"]


def test_a_tampered_artefact_is_not_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    src = tmp_path / "a"
    (src / "models").mkdir(parents=True)
    (src / "models" / "m.bin").write_bytes(b"weights")
    key = step_key({"step": "train", "x": 1})
    files = {"models/m.bin": file_sha256(src / "models" / "m.bin")}
    result = {"model_path": str(src.resolve() / "models" / "m.bin")}
    save_record(Record("train", key, {}, "a", str(src.resolve()), files, result, 8.0), src)

    hit = restore("train", key, tmp_path / "b")
    assert isinstance(hit, Record)
    assert hit.result["model_path"] == str((tmp_path / "b").resolve() / "models" / "m.bin")
    assert (tmp_path / "b" / "models" / "m.bin").read_bytes() == b"weights"
    assert restore("train", step_key({"step": "train", "x": 2}), tmp_path / "c") == (
        "no earlier run had the same inputs"
    )
    blob = tmp_path / "home" / "steps" / "blobs" / files["models/m.bin"]
    os.chmod(blob, 0o644)
    blob.write_bytes(b"tampered")  # the kept file changed: never reused
    why = restore("train", key, tmp_path / "d")
    assert isinstance(why, str) and "does not match its SHA-256" in why
    assert not (tmp_path / "d" / "models" / "m.bin").exists()
