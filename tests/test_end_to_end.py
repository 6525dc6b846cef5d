"""The walking skeleton: the real CLI, the real group chat (offline planner), real training,
a real ONNX file, a real service on 127.0.0.1, and the run directory contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli

RUN_FILES = (
    "request.txt",
    "spec.json",
    "data_card.md",
    "model_card.md",
    "metrics.json",
    "exports/model.onnx",
    "report.md",
    "report.json",
    "transcript.jsonl",
    "state.json",
)
REQUEST = (
    "Tell whether a fine-food review says the product is great. Accuracy at least 70%, "
    "under 1M parameters, p95 latency under 50 ms."
)


@pytest.fixture(scope="module")
def text_run(fine_foods_small: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    train, test = fine_foods_small
    out = tmp_path_factory.mktemp("runs")
    result = run_cli(
        "run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(out), "--json"
    )
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    return {"report": report, "dir": Path(report["run_dir"]), "test": test}


def test_run_directory_holds_every_artifact(text_run: dict) -> None:
    for name in RUN_FILES:
        assert (text_run["dir"] / name).is_file(), name
    state = json.loads((text_run["dir"] / "state.json").read_text())
    assert state["status"] == "finished"
    assert all(s["status"] == "done" for s in state["steps"].values())


def test_report_contract(text_run: dict) -> None:
    report = text_run["report"]
    assert report["decision"] == "accept"
    assert report["task_type"] == "text_classification"
    assert "offline planner" in report["brain"]
    names = {r["name"] for r in report["requirements"]}
    assert names == {"accuracy", "params", "latency_p95_ms"}
    assert all(r["met"] is True for r in report["requirements"])
    # latency is judged on the service under its load test, the model alone in process beside it
    [latency] = [r for r in report["requirements"] if r["name"] == "latency_p95_ms"]
    assert latency["achieved"] == report["service"]["load_test"]["p95_ms"]
    in_process = report["exports"]["latency_ms"]["p95"]
    assert latency["note"].startswith("measured on the service over HTTP at ")
    assert f"the model alone in process: {in_process:.3g} ms" in latency["note"]
    assert report["model"]["params"] < 1_000_000
    assert report["model"]["size_bytes"] == (text_run["dir"] / "exports/model.onnx").stat().st_size
    assert report["exports"]["parity"]["label_agreement"] == 1.0
    assert report["test_data"] == {"path": report["test_data"]["path"], "rows": 250, "source": "user"}
    assert report["service"]["url"].startswith("http://127.0.0.1:")
    assert report["service"]["smoke"]
    assert set(report["durations"]) >= {"parse", "data", "train", "export", "serve"}


def test_reported_accuracy_equals_an_independent_onnx_evaluation(text_run: dict) -> None:
    import onnxruntime as ort

    report = text_run["report"]
    test = pd.read_csv(report["test_data"]["path"])
    session = ort.InferenceSession(report["exports"]["onnx"], providers=["CPUExecutionProvider"])
    texts = np.array(test["review"].astype(str).tolist(), dtype=object).reshape(-1, 1)
    labels = session.run(["label"], {"text": texts})[0]
    accuracy = float(np.mean([str(p) == str(t) for p, t in zip(labels, test["score"], strict=True)]))
    assert report["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert len(test) == report["test_data"]["rows"]


def test_transcript_shows_the_group_chat_in_order(text_run: dict) -> None:
    records = [json.loads(line) for line in (text_run["dir"] / "transcript.jsonl").read_text().splitlines()]
    assert all("ts" in r for r in records)
    speakers = [r["speaker"] for r in records if r["type"] in ("message", "tool_call", "tool_result")]
    assert speakers[0] == "user"
    assert {"task_agent", "data_agent", "model_agent", "server_agent"} <= set(speakers)
    calls = [(r["speaker"], r["tool"]) for r in records if r["type"] == "tool_call"]
    assert calls == [
        ("task_agent", "parse_request"),
        ("data_agent", "prepare_data"),
        ("model_agent", "train_model"),
        ("server_agent", "export_model"),
        ("server_agent", "deploy_service"),
        ("task_agent", "write_report"),
    ]
    assert records[-1]["type"] == "message" and records[-1]["speaker"] == "task_agent"
    assert records[-1]["content"].rstrip().endswith("TERMINATE")


def test_report_md_is_readable(text_run: dict) -> None:
    md = (text_run["dir"] / "report.md").read_text()
    assert "| requirement | target | achieved | met |" in md
    assert "| accuracy | >= 0.7 |" in md
    assert "model_card.md" in md


def test_tabular_classification_end_to_end(wine_csv: Path, tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "Predict the cultivar of a wine from its chemistry with accuracy above 80%.",
        "--data",
        str(wine_csv),
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["task_type"] == "tabular_classification"
    assert report["test_data"]["source"] == "split"
    assert report["requirements"][0]["name"] == "accuracy" and report["requirements"][0]["met"]


def test_unreachable_target_exits_3_and_says_by_how_much(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    result = run_cli(
        "run",
        "Classify reviews, accuracy >= 99.5%",
        "--data",
        str(train),
        "--test-data",
        str(test),
        "--out",
        str(tmp_path),
        "--json",
        # a count budget: the review's remedies (2x, 4x the plan) stay small, on any load
        "--max-trials",
        "1",
        "--max-epochs",
        "1",
    )
    assert result.code == 3, result.stderr
    report = json.loads(result.stdout)
    (req,) = report["requirements"]
    assert req["met"] is False and req["achieved"] < 0.995
    assert "short by" in req["note"]


def test_no_data_asks_for_it_and_trains_nothing(tmp_path: Path) -> None:
    result = run_cli("run", "Build a spam classifier with F1 at least 0.9", "--out", str(tmp_path), "--json")
    assert result.code == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["decision"] == "ask"
    assert report["questions"] and "--data" in report["questions"][0]
    run_dir = Path(report["run_dir"])
    assert not (run_dir / "exports").exists() and not (run_dir / "models").exists()


def test_human_output_shows_the_chat_and_the_requirements_table(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    result = run_cli("run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(tmp_path))
    assert result.code == 0, result.stderr
    for text in (
        "task_agent",
        "data_agent calls prepare_data(test_fraction=0.2, relabel_min_confidence=0.9)",
        "model_agent calls train_model(families=",
        "NEXT: model_agent",
        "Requirements",
        "report:",
    ):
        assert text in result.stdout, text
    assert "Traceback" not in result.stdout + result.stderr


def test_approve_ask_without_a_terminal_denies_the_service_and_says_so(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    result = run_cli(
        "run", "Classify reviews, accuracy >= 60%, 100 QPS", "--data", str(train), "--test-data", str(test),
        "--out", str(tmp_path), "--approve", "ask", "--json",
    )  # fmt: skip
    assert result.code == 3, result.stderr  # qps could not be measured: not met
    report = json.loads(result.stdout)
    assert report["service"] is None
    qps = next(r for r in report["requirements"] if r["name"] == "qps")
    assert qps["met"] is None and qps["achieved"] is None
    assert any("not approved" in note for note in report["notes"])
    records = [
        json.loads(line) for line in (Path(report["run_dir"]) / "transcript.jsonl").read_text().splitlines()
    ]
    approvals = {r["kind"]: r for r in records if r["type"] == "approval"}
    service = approvals["start_service"]
    assert service["decision"] == "deny" and "no terminal" in service["by"]
    assert all(a["decision"] == "deny" for a in approvals.values())  # label corrections too


def test_service_left_running_with_serve_until_stop(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    import httpx

    train, test = fine_foods_small
    result = run_cli(
        "run", "Classify reviews", "--data", str(train), "--test-data", str(test), "--out", str(tmp_path),
        "--serve", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    url = report["service"]["url"]
    try:
        assert report["service"]["running"] is True
        answer = httpx.post(
            url + "/predict", json={"inputs": ["Delicious, I will buy it again!"]}, timeout=10
        )
        assert answer.status_code == 200 and answer.json()["predictions"][0]["label"] in ("great", "other")
    finally:
        stopped = run_cli("stop", report["run_dir"])
    assert stopped.code == 0 and "stopped" in stopped.stdout
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/health", timeout=2)
