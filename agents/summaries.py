"""The words the offline planner says: hand-offs, specialists' reports and the final summary.

Each specialist's report ends with its spec as a ```json block (the contract the Task agent
checks); everything above it is for the person reading the chat.
"""

from __future__ import annotations

import json
from typing import Any

from trainer_agent.agents.run_state import Run
from trainer_agent.skills.data.catalog_data import summary
from trainer_agent.skills.pipeline import SPECIALISTS
from trainer_agent.skills.report import fmt_value
from trainer_agent.skills.specs import (
    DataReport,
    Deployment,
    ExportResult,
    ServerReport,
    TaskSpec,
    TrainResult,
)
from trainer_agent.skills.task.plan import plan_lines


def _fmt_req(req: dict[str, Any]) -> str:
    name = f"{req['name']}[{req['label']}]" if req.get("label") else req["name"]
    return f"{name} {req['op']} {fmt_value(req['target'])}"


def _json_block(model: Any) -> str:
    return "```json\n" + model.model_dump_json(indent=1) + "\n```"


def handoff(run: Run, step: str) -> str:
    spec = TaskSpec.model_validate(run.result("parse"))
    if step == "data":
        reqs = ", ".join(_fmt_req(r.model_dump()) for r in spec.requirements) or "none stated"
        cols = f"label '{spec.label_column}'" + (f", text '{spec.text_column}'" if spec.text_column else "")

        eta = spec.estimate.get("seconds")
        plan = "\n".join(plan_lines(spec.plan)) or " -> ".join([*SPECIALISTS, "report"])
        read = "".join(f"Read: {r}.\n" for r in spec.readings)  # class names, assumed limits
        return (
            f"Task: {spec.task_type.value.replace('_', ' ')} ({cols}). Requirements: {reqs}.\n{read}"
            "Plan" + (f" (about {eta:.0f} s)" if eta else "") + f":\n{plan}\n"
            "data_agent: load, check and clean the data, and hold out a test set."
        )
    if step == "train":
        return "Data accepted. model_agent: train the best model within the constraints and evaluate it."
    if step == "export":
        return "Model accepted. server_agent: export it to ONNX, check parity, and stand up the service."
    return "server_agent: deploy and smoke-test the service."


def _relabelling(data: DataReport) -> str:
    """The relabelling trial in one sentence ('' when none ran)."""
    t = data.label_fix
    if t is None:
        return ""
    return (
        f"Relabelling {t.proposed} training rows: {t.decision} ({t.metric} on your own labels "
        f"{t.without:.4f} without, {t.with_corrections:.4f} with; {t.reason})."
    )


def _catalog(data: DataReport) -> str:
    """The catalog data tried, in one sentence ('' when none was)."""

    return " ".join(summary(t) for t in data.catalog)


def specialist_summary(agent: str, run: Run) -> str:
    if agent == "data_agent":
        data = DataReport.model_validate(run.result("data"))
        total = sum(data.label_counts.values()) or 1
        dist = ", ".join(f"{k} {v / total:.0%}" for k, v in data.label_counts.items())
        split = "the test file given" if data.test_from == "user" else "a held-out split"
        lines = [
            f"Data ready: {data.n_train:,} training rows and {data.n_test:,} test rows ({split}).",
            f"Labels: {dist}." if dist else "",
            _relabelling(data),
            _catalog(data),
            *[f"- {note}" for note in data.notes[:8]],
            f"Details in {data.data_card}.",
            _json_block(data),
        ]
        return "\n".join(line for line in lines if line)
    if agent == "model_agent":
        train = TrainResult.model_validate(run.result("train"))
        shown = {k: v for k, v in train.metrics.items() if "[" not in k}
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
        lines = [
            f"Trained {train.family}: {train.params:,} parameters, held-out {metrics} "
            f"({train.train_seconds:.1f} s).",
            *[f"- {note}" for note in train.notes[:6]],
            _json_block(train),
        ]
        return "\n".join(lines)
    export = ExportResult.model_validate(run.result("export"))
    served = run.result("serve")
    parity = export.parity
    lines = [
        f"Exported ONNX ({export.size_bytes / 1e6:.2f} MB): labels agree with the original on "
        f"{parity.label_agreement:.1%} of {parity.n} test rows; "
        f"p95 latency {export.latency_ms.get('p95', 0):.2f} ms at batch 1."
    ]
    q = export.quantization
    if export.served == "int8":
        lines.append(f"Serving the int8 copy: {q.get('reason')}.")
    elif q.get("reason"):
        lines.append(f"Serving the float model; int8 {q.get('status')}: {q['reason']}.")
    deployment = None
    if "skipped" in served:
        lines.append(f"No service: {served['skipped']}.")
    else:
        deployment = Deployment.model_validate(served)
        state = "left running" if deployment.running else "stopped after the checks"
        measured = deployment.measured
        lines.append(
            f"Service at {deployment.url} answered /predict, /health, /metrics and /docs; "
            f"{measured.get('qps', 0):.0f} requests/s, p95 {measured.get('p95_ms', 0):.1f} ms; {state}."
        )
    lines.append(_json_block(ServerReport(export=export, deployment=deployment)))
    return "\n".join(lines)


def final_summary(run: Run) -> str:
    report_path = run.run_dir / "report.json"
    if not report_path.exists():
        return "The run stopped before a report was written."
    report = json.loads(report_path.read_text(encoding="utf-8"))
    decision = report["decision"]
    if decision != "accept":
        lines = [f"Decision: {decision}."]
        lines += [f"- {r}" for r in report.get("reasons", [])]
        lines += [f"? {q}" for q in report.get("questions", [])]
        return "\n".join(lines)
    rows = [
        f"- {r['name']} {r['op']} {fmt_value(r['target'])}: achieved {fmt_value(r['achieved'])}"
        + (" (met)" if r["met"] else " (not measured)" if r["met"] is None else " (NOT met)")
        for r in report["requirements"]
    ]
    verdict = (
        "All requirements are met."
        if all(r["met"] is True for r in report["requirements"])
        else "Some requirements are not met or could not be measured."
    )
    return "\n".join([f"Done. {verdict} Report: {run.run_dir / 'report.md'}", *rows])
