"""The int8 copy is an experiment (skills.export.variant): tried only under a size, memory or latency
limit (or when asked), measured against the float model on the same held-out rows, and served only
when that limit needs it; the report and the model card show both variants and which one is served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer_agent.skills.export.onnx_tail import finish_export
from trainer_agent.skills.export.variant import INT8_FILE, choose_int8, comparison_lines, served_file
from trainer_agent.skills.specs import ExportResult, Parity, Requirement

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _measured(float_ms: float, int8_ms: float, float_bytes: int = 20_000, int8_bytes: int = 7_000) -> dict:
    """A candidate's measurement with chosen numbers, for the decision's rules alone."""
    return {
        "status": "candidate",
        "path": None,
        "size_bytes": {"float": float_bytes, "int8": int8_bytes},
        "parity": {"n": 100, "label_agreement": 1.0, "max_abs_diff": 0.01},
        "latency_ms_batch_1": {
            "float": {"p50": float_ms, "p95": float_ms * 1.5, "p99": float_ms * 2},
            "int8": {"p50": int8_ms, "p95": int8_ms * 1.5, "p99": int8_ms * 2},
        },
    }


def _mlp(tmp_path: Path) -> tuple[Path, list[dict], list[str]]:
    """A real MLP (MatMul/Gemm) told 0 from 1 on the digits, converted by the project's own
    converter; the classes are far apart, so int8 keeps every label (parity holds on any CPU)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    from trainer_agent.skills.export.sklearn_onnx import convert

    x, y = load_digits(n_class=2, return_X_y=True, as_frame=True)
    x.columns = [f"p{i}" for i in range(x.shape[1])]
    y = y.astype(str)
    pipe = Pipeline(
        [
            ("prep", ColumnTransformer([("num", "passthrough", list(x.columns))])),
            ("model", MLPClassifier((64,), max_iter=60, random_state=0)),
        ]
    ).fit(x[:250], y[:250])
    info = {
        "task_type": "tabular_classification",
        "family": "mlp-classifier",
        "labels": sorted(set(y)),
        "inputs": [{"name": c, "column": c, "kind": "float"} for c in x.columns],
        "label_column": "digit",
    }
    path = tmp_path / "exports" / "model.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(convert(pipe, info).SerializeToString())
    return path, x[250:].to_dict("records"), list(y[250:])


def _export(tmp_path: Path, requirements: list[Requirement], quantize: bool | None = None) -> ExportResult:
    """The MLP through the export's shared tail (benchmark, int8, decision), with its held-out labels."""
    path, rows, truth = _mlp(tmp_path)
    parity = Parity(n=len(rows), label_agreement=1.0, max_abs_diff=0.0, onnx_metrics={})
    return finish_export(path, rows, parity, 8, quantize, None, requirements=requirements, truth=truth)


def test_the_rules_keep_int8_only_for_a_limit_it_helps():
    size_cap = [Requirement(name="size_bytes", op="<=", target=50_000)]
    # 2.4x slower, no limit stated (it was asked for): not kept, and the sentence says why
    slow = choose_int8(_measured(0.05, 0.12), [])
    assert slow["status"] == "not kept"
    assert (
        "2.4x slower" in slow["reason"]
        and "no size, latency or memory requirement asks for it" in slow["reason"]
    )
    # smaller and faster, asked for without a limit: kept, saying it was asked for
    assert choose_int8(_measured(0.10, 0.05), [])["status"] == "kept"
    # a size limit the float model already meets, int8 smaller but slower: not worth the slowdown
    met = choose_int8(_measured(0.05, 0.12), size_cap)
    assert met["status"] == "not kept" and "already meets size_bytes <= 50,000" in met["reason"]
    # the float model misses the size limit and int8 meets it: kept, whatever its speed
    tight = [Requirement(name="size_bytes", op="<", target=10_000)]
    needed = choose_int8(_measured(0.05, 0.12), tight)
    assert needed["status"] == "kept" and "misses size_bytes < 10,000" in needed["reason"]
    # int8 would break a latency limit the float model meets: not kept even though it is smaller
    both = [*tight, Requirement(name="latency_p95_ms", op="<=", target=0.1)]
    broken = choose_int8(_measured(0.05, 0.12), both)
    assert broken["status"] == "not kept" and "miss latency_p95_ms <= 0.1" in broken["reason"]
    # a memory limit is judged by the weights' size; a p99 limit by the p99 of both
    assert choose_int8(_measured(0.05, 0.05), [Requirement(name="memory_mb", op="<", target=512)])[
        "status"
    ] == ("kept")
    within = choose_int8(_measured(0.050, 0.051), [Requirement(name="latency_p99_ms", op="<", target=5)])
    assert within["status"] == "not kept" and "as fast" in within["reason"]  # 2% is noise, not a gain
    # statuses other than a candidate pass unchanged
    assert choose_int8({"status": "rejected", "reason": "r"}, tight) == {"status": "rejected", "reason": "r"}


def test_without_a_limit_int8_is_not_tried_and_the_float_model_is_served(tmp_path):
    e = _export(tmp_path, [Requirement(name="accuracy", op=">=", target=0.5)])
    assert e.quantization["status"] == "off"
    assert e.quantization["reason"] == (
        "not tried: no size, latency or memory limit is stated, so int8 has nothing to earn"
    )
    assert e.served == "float" and e.served_file == e.onnx_path
    assert served_file(Path(e.onnx_path).parent) == Path(e.onnx_path)
    lines = comparison_lines(e)
    assert any(line.startswith("| float |") and "**yes**" in line for line in lines)
    assert not any(line.startswith("| int8 |") for line in lines)
    assert (
        "- served: the float model; int8 not tried: no size, latency or memory limit is stated"
        in "\n".join(lines)
    )
    # turned off by the agent although a size limit is stated: said so
    off = _export(tmp_path / "off", [Requirement(name="size_bytes", op="<", target=1_000)], quantize=False)
    assert off.quantization == {
        "status": "off",
        "reason": "not tried: export_model(quantize=false), "
        "although a size, latency or memory limit is stated",
    }


def test_asked_for_without_a_limit_it_is_measured_and_kept_only_if_smaller_and_no_slower(tmp_path):
    e = _export(tmp_path, [], quantize=True)
    q = e.quantization
    assert q["status"] in ("kept", "not kept"), q
    lat = q["latency_ms_batch_1"]
    assert q["size_bytes"]["int8"] < q["size_bytes"]["float"]
    no_slower = lat["int8"]["p50"] <= lat["float"]["p50"] * 1.05
    assert (q["status"] == "kept") == no_slower, q  # the rule, on what this machine measured
    assert (Path(e.onnx_path).parent / INT8_FILE).exists() == no_slower  # a copy not served is removed
    assert e.served == ("int8" if no_slower else "float")
    # both variants scored on the same held-out rows
    assert set(q["metrics"]) == {"float", "int8"} and q["metrics"]["float"]["accuracy"] > 0.95
    assert abs(q["metrics"]["int8"]["accuracy"] - q["metrics"]["float"]["accuracy"]) <= 0.05


def test_a_size_limit_only_int8_meets_serves_int8_and_the_report_says_so(tmp_path):
    from fastapi.testclient import TestClient

    from trainer_agent.skills.report import latency_notes, measured_values, render_markdown, write_report
    from trainer_agent.skills.serve.service_app import create_app
    from trainer_agent.skills.specs import Deployment, RunReport, TaskType, TrainResult

    probe = _export(tmp_path / "probe", [], quantize=True).quantization["size_bytes"]
    cap = (probe["float"] + probe["int8"]) // 2  # between the two files: only int8 fits
    limit = Requirement(name="size_bytes", op="<", target=cap)
    e = _export(tmp_path / "capped", [limit, Requirement(name="accuracy", op=">=", target=0.8)])
    q = e.quantization
    assert q["status"] == "kept" and f"misses size_bytes < {cap:,}" in q["reason"], q
    assert e.served == "int8" and Path(e.served_file).name == INT8_FILE
    exports = Path(e.onnx_path).parent
    assert served_file(exports) == Path(e.served_file)  # what `trainer-agent serve` and the image pick

    # The requirement checks read the served variant's numbers: its size and its metrics.
    train = TrainResult(family="mlp", params=1, size_bytes=10**9, model_path="m", metrics={"accuracy": 0.1})
    values = measured_values(train, e, None)
    assert values["size_bytes"] == q["size_bytes"]["int8"] < cap
    assert values["accuracy"] == q["metrics"]["int8"]["accuracy"]
    assert values["latency_p95_ms"] == q["latency_ms_batch_1"]["int8"]["p95"]  # no service: in process
    assert latency_notes(e, None)["latency_p95_ms"] == (
        f"no service was measured; the model alone in process: {values['latency_p95_ms']:.3g} ms"
    )
    # with a service, the load test's p95 over HTTP is what a latency requirement is judged on
    load = {"offered_qps": 12.5, "p50_ms": 3.0, "p95_ms": 7.25, "p99_ms": 9.0, "errors": 0}
    served = Deployment(url="u", docs_url="d", metrics_url="m", running=False, load_test=load)
    assert measured_values(train, e, served)["latency_p95_ms"] == 7.25
    assert latency_notes(e, served)["latency_p95_ms"] == (
        "the service over HTTP at 12.5 QPS (half a replica's capacity); "
        f"the model alone in process: {values['latency_p95_ms']:.3g} ms"
    )
    served.estimate = {"target_qps": 100.0}
    assert "(the requested QPS per replica)" in latency_notes(e, served)["latency_p99_ms"]

    # The service serves the int8 file and says so; its documents show the int8 file's own benchmark.
    from trainer_agent.skills.serve.api_docs import _performance

    assert q["benchmark"]["batch_1_ms"]["p50"] > 0 and q["benchmark"] != e.benchmark
    assert "1 thread, the int8 copy):" in "\n".join(
        _performance({"benchmark": q["benchmark"], "variant": "int8"})
    )
    with TestClient(create_app(e.served_file, threads=1)) as client:
        model = client.get("/ready").json()["model"]
    assert model["variant"] == "int8" and model["file"] == INT8_FILE

    # report.md and the model card show both variants, which is served, and why.
    run = tmp_path / "capped"
    (run / "model_card.md").write_text("# Model card\n\ntrained.\n", encoding="utf-8")
    report = RunReport(
        run_id="r",
        run_dir=str(run),
        decision="accept",
        task_type=TaskType.TABULAR_CLASSIFICATION,
        brain="offline",
        exports={
            "onnx": e.onnx_path,
            "parity": e.parity.model_dump(),
            "latency_ms": e.latency_ms,
            "variants": comparison_lines(e),
        },
    )
    text = render_markdown(report)
    rows = [line for line in text.splitlines() if line.startswith(("| float |", "| int8 |"))]
    assert len(rows) == 2 and "**yes**" in rows[1] and "**yes**" not in rows[0]
    assert f"| {q['size_bytes']['int8']:,} |" in rows[1] and f"| {q['size_bytes']['float']:,} |" in rows[0]
    assert f"served: the int8 copy (`{INT8_FILE}`), because the float model misses size_bytes" in text
    write_report(run, report)
    write_report(run, report)  # the card's sections are replaced, not appended again
    card = (run / "model_card.md").read_text(encoding="utf-8")
    assert card.count("## Served variant (float and int8)") == 1 and card.count("| int8 |") == 1
    assert card.index("## Served variant") < card.index("## Requirements (target vs achieved)")
    assert json.loads((run / "report.json").read_text())["exports"]["variants"] == comparison_lines(e)


def test_the_offline_planner_tries_int8_only_under_a_size_memory_or_latency_limit(tmp_path):
    from trainer_agent.agents.brains.offline import arguments
    from trainer_agent.agents.run_state import Run, RunOptions
    from trainer_agent.skills.specs import TaskSpec

    def export_args(requirements: list[Requirement], name: str) -> dict:
        run = Run.create(tmp_path / name, RunOptions(request="r", sandbox="local"), run_id=name)
        spec = TaskSpec(request="r", task_type="text_classification", requirements=requirements)
        run.step("parse", lambda: spec.model_dump(mode="json"))
        return arguments(run, "export")

    assert export_args([], "none") == {"quantize": False}
    assert export_args([Requirement(name="accuracy", op=">=", target=0.9)], "metric") == {"quantize": False}
    assert export_args([Requirement(name="params", op="<", target=1e6)], "params") == {"quantize": False}
    for name in ("size_bytes", "memory_mb", "latency_p95_ms"):
        assert export_args([Requirement(name=name, op="<", target=100)], name) == {"quantize": True}
    # a lower bound on latency is no reason to compress
    assert export_args([Requirement(name="latency_p50_ms", op=">", target=1)], "lower") == {"quantize": False}
