"""`run --reuse`: a repeated request takes every step's artefacts from the first run (checked by
SHA-256) instead of doing the work again; a changed data file is not reused (skills.step_cache,
agents.step_reuse). Real runs on the wine data, a small tabular set."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.agents.step_reuse import inputs
from trainer_agent.agents.tool_args import DataArgs, Experiment, ToolArgs
from trainer_agent.skills.data.catalog import Catalog
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.registry import Registry
from trainer_agent.skills.specs import DataReport, TaskSpec, TrainResult
from trainer_agent.skills.step_cache import (
    KEEP_ENV,
    LINK_FROM,
    Record,
    file_sha256,
    keep_per_step,
    restore,
    save_record,
    step_key,
    tree_hashes,
)

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
    records = ("state.json", "transcript.jsonl", "report.json", "report.md")  # say where from
    for path in new.rglob("*"):  # copies name this run; only the records say where they came from
        if path.is_file() and path.name not in records:
            assert str(old) not in path.read_text(encoding="utf-8", errors="replace"), path
    assert "service/k8s.yaml" in again["reused"]["serve"]["rewritten"]
    assert again["run_id"] in (new / "service" / "k8s.yaml").read_text(encoding="utf-8")
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


def _prepared_run(folder: Path, wine_csv: Path, **options) -> Run:
    """A run whose parse and data steps are done (the wine data, split in two), as a key reads it."""
    opts = {"sandbox": "local", **options}
    run = Run.create(folder, RunOptions(request=REQUEST, data=str(wine_csv), **opts))
    df, folder = pd.read_csv(wine_csv), run.run_dir
    (folder / "data").mkdir(parents=True)
    df.iloc[::2].to_csv(folder / "data" / "train.csv", index=False)
    df.iloc[1::2].to_csv(folder / "data" / "test.csv", index=False)
    spec = TaskSpec(request=REQUEST, task_type="tabular_classification", label_column="cultivar")
    data = DataReport(
        train_path=str(folder / "data" / "train.csv"),
        test_path=str(folder / "data" / "test.csv"),
        test_from="split",
        n_train=89,
        n_test=89,
        columns=list(df.columns),
        label_column="cultivar",
        feature_columns=[c for c in df.columns if c != "cultivar"],
        label_counts=df.iloc[::2]["cultivar"].value_counts().to_dict(),
    )
    for step, result in (("parse", spec), ("data", data)):
        run.state["steps"][step] = {"status": "done", "result": result.model_dump(mode="json")}
    return run


def _key(run: Run, step: str, args: ToolArgs) -> str:
    given = inputs(run, step, args)
    assert isinstance(given, dict), given
    return step_key(given)


def test_a_catalog_file_changed_in_place_is_other_data(wine_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    run = _prepared_run(tmp_path / "run", wine_csv)
    more = tmp_path / "more.csv"
    pd.read_csv(wine_csv).to_csv(more, index=False)
    Catalog().add(more, "more-wine", label="cultivar", licence="MIT")
    keys = [_key(run, "data", DataArgs()), _key(run, "data", DataArgs(use_catalog=["more-wine"]))]

    df = pd.read_csv(more)
    df.loc[0, "cultivar"] = "class_2" if df.loc[0, "cultivar"] != "class_2" else "class_1"
    df.to_csv(more, index=False)  # same name, same entry: other rows
    after = [_key(run, "data", DataArgs()), _key(run, "data", DataArgs(use_catalog=["more-wine"]))]
    assert keys[0] != after[0] and keys[1] != after[1]
    assert _key(run, "data", DataArgs(use_catalog=[])) == step_key(  # no catalog tried: not read
        {**inputs(run, "data", DataArgs(use_catalog=[])), "catalog": []}  # type: ignore[dict-item]
    )


def test_the_train_key_holds_where_it_runs_and_what_it_starts_from(wine_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    args = Experiment()
    local = _key(_prepared_run(tmp_path / "local", wine_csv), "train", args)
    assert local == _key(_prepared_run(tmp_path / "local2", wine_csv), "train", args)  # same request
    assert _key(_prepared_run(tmp_path / "docker", wine_csv, sandbox="docker"), "train", args) != local
    assert _key(_prepared_run(tmp_path / "gpu", wine_csv, gpus="0"), "train", args) != local

    # a registered model on other wine rows, same labels: training would start from it
    old = _prepared_run(tmp_path / "old", wine_csv)
    other = DataReport.model_validate(old.result("data"))
    other.feature_columns = other.feature_columns[:-1]
    model = old.run_dir / "models" / "model.joblib"
    model.parent.mkdir()
    model.write_bytes(b"weights")
    (model.parent / "model.json").write_text('{"hyperparameters": {"C": 1.0}}')
    result = TrainResult(family="logistic-regression", params=1, size_bytes=7, model_path=str(model))
    result.labels, result.metrics = ["class_0", "class_1", "class_2"], {"accuracy": 0.9}
    Registry().register(TaskSpec.model_validate(old.result("parse")), other, result)
    warm = _key(_prepared_run(tmp_path / "warm", wine_csv), "train", args)
    assert warm != local
    model.write_bytes(b"other weights")  # the registered file changed in place
    assert _key(_prepared_run(tmp_path / "warm2", wine_csv), "train", args) != warm
    no_warm = _prepared_run(tmp_path / "cold", wine_csv, warm_start=False)
    assert _key(no_warm, "train", args) == local  # --no-warm-start: nothing to start from


def test_reused_files_name_the_new_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    old_id, new_id = "20260101-000000-aaaaaa", "20260102-000000-bbbbbb"
    src, dest = (tmp_path / "runs" / old_id).resolve(), (tmp_path / "runs2" / new_id).resolve()
    (src / "service").mkdir(parents=True)
    card = f"- Written: `{src}/data/train.csv`\nname: m-{old_id}-model\n"
    (src / "data_card.md").write_text(card, encoding="utf-8")
    (src / "service" / "spec.json").write_text(json.dumps({"run_dir": str(src)}), encoding="utf-8")
    (src / "service" / "model.bin").write_bytes(b"\x00\xff" + str(src).encode())  # binary: kept as is
    # a service log larger than the size from which binary files are linked: text, so copied and renamed
    log = f"serving {src}/exports/model.onnx\n" + '{"status": 200}\n' * (LINK_FROM // 16) + f"bye {src}\n"
    (src / "service" / "service.log").write_text(log, encoding="utf-8")
    rels = ("data_card.md", "service/spec.json", "service/model.bin", "service/service.log")
    files = {rel: file_sha256(src / rel) for rel in rels}
    result = {"image": f"trainer-agent-service-{old_id}:1", "path": f"{src}/exports/model.onnx"}
    key = step_key({"step": "serve"})
    save_record(Record("serve", key, {}, old_id, str(src), files, result, 1.0), src)
    kept = tree_hashes(src, "data_card.md", "service")
    with (src / "service" / "service.log").open("a", encoding="utf-8") as f:  # a later `serve` of the run
        f.write("appended after the step was kept\n")

    hit = restore("serve", key, dest)
    assert isinstance(hit, Record)
    text = (dest / "data_card.md").read_text(encoding="utf-8")
    assert text == f"- Written: `{dest}/data/train.csv`\nname: m-{new_id}-model\n"
    assert json.loads((dest / "service" / "spec.json").read_text())["run_dir"] == str(dest)
    assert (dest / "service" / "model.bin").read_bytes() == (src / "service" / "model.bin").read_bytes()
    assert hit.result == {"image": f"trainer-agent-service-{new_id}:1", "path": f"{dest}/exports/model.onnx"}
    assert (dest / "service" / "service.log").read_text(encoding="utf-8") == log.replace(str(src), str(dest))
    assert sorted(hit.rewritten) == ["data_card.md", "service/service.log", "service/spec.json"]
    assert all(file_sha256(dest / rel) == digest for rel, digest in hit.files.items())
    # a later step's key reads the rewritten files as the originals
    assert tree_hashes(dest, "data_card.md", "service") == kept


def test_the_library_keeps_the_newest_records_per_step(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(KEEP_ENV, "2")
    blobs = tmp_path / "home" / "steps" / "blobs"
    for i in range(4):
        src = tmp_path / f"run{i}"
        src.mkdir()
        (src / "shared.txt").write_text("the same in every run")
        (src / "own.txt").write_text(f"run {i}")
        files = {rel: file_sha256(src / rel) for rel in ("shared.txt", "own.txt")}
        save_record(Record("train", f"{i:064d}", {}, f"run{i}", str(src), files, {}, 1.0), src)
        for blob in blobs.iterdir():  # kept long ago: past the grace for records on their way
            os.utime(blob, (1, 1))
        time.sleep(0.01)
    kept = sorted(p.stem for p in (tmp_path / "home" / "steps" / "train").glob("*.json"))
    assert kept == [f"{2:064d}", f"{3:064d}"]  # the newest two
    assert sorted(p.read_text() for p in blobs.iterdir()) == ["run 2", "run 3", "the same in every run"]
    monkeypatch.setenv(KEEP_ENV, "none")
    with pytest.raises(UserError, match=f"{KEEP_ENV} must be a whole number"):
        keep_per_step()
