"""The run's report: every requirement checked against what was measured.

`report.json` is the RunReport contract; `report.md` is the same for a person. Metrics and size are
those of the ONNX file the service serves (the float model, or its int8 copy when the export kept
it), on the held-out data; the export section shows both variants. A latency requirement is judged
where users feel it, on the service over HTTP under the load test, with the model's own batch-1
latency in process beside it (alone when no service was measured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer_agent.skills.atomic_write import write_atomic
from trainer_agent.skills.export.variant import comparison_lines, served_numbers
from trainer_agent.skills.markdown_safe import md_json
from trainer_agent.skills.markdown_safe import md_text as md
from trainer_agent.skills.model.evaluate import check_requirements
from trainer_agent.skills.pipeline import tool_for
from trainer_agent.skills.specs import (
    DataReport,
    Deployment,
    ExportResult,
    ModelSummary,
    RequirementResult,
    RunReport,
    TaskSpec,
    TrainResult,
)


def _result(state: dict[str, Any], step: str) -> Any:
    entry = state.get("steps", {}).get(step, {})
    return entry.get("result") if entry.get("status") == "done" else None


def measured_values(
    train: TrainResult, export: ExportResult | None, deployment: Deployment | None
) -> dict[str, float]:
    """Everything a requirement can be checked against, keyed as `Requirement.key`."""
    values: dict[str, float] = dict(train.metrics)
    values["params"] = float(train.params)
    values["size_bytes"] = float(train.size_bytes)
    if export is not None:
        # the served variant's numbers: the int8 copy's when the export kept it (skills.export.variant)
        served = served_numbers(export.quantization)
        values.update(served.get("metrics") or export.parity.onnx_metrics or {})
        values["size_bytes"] = float(served.get("size_bytes") or export.size_bytes)
        latency = served.get("latency_ms") or export.latency_ms
        for pct in ("p50", "p95", "p99"):
            if pct in latency:
                values[f"latency_{pct}_ms"] = latency[pct]
    if deployment is not None:
        for key in ("qps", "memory_mb"):
            if key in deployment.measured:
                values[key] = float(deployment.measured[key])
        for pct in ("p50", "p95", "p99"):  # where users feel it: the service under its planned load
            served_ms = deployment.load_test.get(f"{pct}_ms")
            if served_ms is not None:
                values[f"latency_{pct}_ms"] = float(served_ms)
    return values


def latency_notes(export: ExportResult | None, deployment: Deployment | None) -> dict[str, str]:
    """What each latency requirement was measured on, by requirement key: the service over HTTP
    under the load test (at the requested QPS per replica, or half a replica's capacity when no QPS
    was asked for), with the model alone in process beside it; or in process only, with no service."""
    in_process: dict[str, float] = {}
    if export is not None:
        in_process = served_numbers(export.quantization).get("latency_ms") or export.latency_ms
    load = deployment.load_test if deployment is not None else {}
    est = deployment.estimate if deployment is not None else {}
    notes = {}
    for pct in ("p50", "p95", "p99"):
        beside = f"the model alone in process: {in_process[pct]:.3g} ms" if pct in in_process else ""
        if load.get(f"{pct}_ms") is not None:
            rate = float(load.get("offered_qps") or 0.0)
            why = "the requested QPS per replica" if est.get("target_qps") else "half a replica's capacity"
            errors = f", {load['errors']} errors" if load.get("errors") else ""
            where = f"the service over HTTP at {rate:g} QPS ({why}{errors})"
            notes[f"latency_{pct}_ms"] = f"{where}; {beside}" if beside else where
        elif beside:
            notes[f"latency_{pct}_ms"] = f"no service was measured; {beside}"
    return notes


def build_report(run_dir: str | Path, state: dict[str, Any], brain: str) -> RunReport:

    run_dir = Path(run_dir)
    spec = TaskSpec.model_validate(_result(state, "parse"))
    report = RunReport(
        run_id=str(state["run_id"]),
        run_dir=str(run_dir),
        decision=spec.decision,
        task_type=spec.task_type,
        brain=brain,
        sandbox=str(state.get("sandbox", "")),
        request=spec.request,
        reasons=list(spec.reasons),
        questions=list(spec.questions),
        durations={k: float(v) for k, v in state.get("durations", {}).items()},
        llm_usage=dict(state.get("llm_usage") or {}),
        cross_check=dict(state.get("cross_check") or {}),
        reused=dict(state.get("reuse") or {}),
    )
    if spec.decision != "accept":
        return report

    data = DataReport.model_validate(_result(state, "data"))
    train = TrainResult.model_validate(_result(state, "train"))
    export_raw, serve_raw = _result(state, "export"), _result(state, "serve")
    export = ExportResult.model_validate(export_raw) if export_raw else None
    deployment = Deployment.model_validate(serve_raw) if serve_raw and "url" in serve_raw else None
    if serve_raw and "skipped" in serve_raw:
        report.notes.append(f"No service: {serve_raw['skipped']}.")

    values = measured_values(train, export, deployment)
    report.requirements = check_requirements(spec.requirements, values)
    measured_on = latency_notes(export, deployment)
    for row in report.requirements:
        if row.name in measured_on:
            row.note = "; ".join(x for x in (row.note, f"measured on {measured_on[row.name]}") if x)
    report.model = ModelSummary(
        family=train.family, params=train.params, size_bytes=int(values["size_bytes"])
    )
    served_metrics = served_numbers(export.quantization).get("metrics") if export else None
    report.metrics = (
        dict(served_metrics or export.parity.onnx_metrics)
        if export and (served_metrics or export.parity.onnx_metrics)
        else dict(train.metrics)
    )
    report.test_data = {"path": data.test_path, "rows": data.n_test, "source": data.test_from}
    report.data = {
        "train_rows": data.n_train,
        "test_rows": data.n_test,
        "label_counts": data.label_counts,
        "dropped_rows": data.dropped_rows,
        "duplicate_rows": data.duplicate_rows,
        "label_issues_listed": len(data.label_issues),
        "labels_corrected": data.labels_corrected,
        "label_fix": data.label_fix.model_dump() if data.label_fix else None,
        "catalog": [t.model_dump() for t in data.catalog],
        "catalog_rows": data.catalog_rows,
        "findings": list(data.findings),
        "plots": list(data.plots),
        "html_report": data.html_report,
    }
    report.notes = [*(f"Read: {r}." for r in spec.readings), *report.notes, *train.notes]
    report.review = review_lines(state)
    if export is not None:
        report.exports = {
            "onnx": export.onnx_path,
            "size_bytes": export.size_bytes,
            "parity": export.parity.model_dump(),
            "latency_ms": export.latency_ms,
            "benchmark": export.benchmark,
            "quantization": export.quantization,
            "tensorrt": export.tensorrt,
            "served": export.served,
            "served_path": export.served_file,
            "variants": comparison_lines(export),
        }
    if deployment is not None:
        report.service = {
            "url": deployment.url,
            "docs_url": deployment.docs_url,
            "metrics_url": deployment.metrics_url,
            "running": deployment.running,
            "pid": deployment.pid,
            "smoke": deployment.smoke,
            "measured": deployment.measured,
            "capacity": deployment.capacity,
            "estimate": deployment.estimate,
            "load_test": deployment.load_test,
            "artifacts": deployment.artifacts,
        }
    return report


def review_lines(state: dict[str, Any]) -> list[str]:
    """The agents' decisions and the Task agent's review (`agents.review`) from the run state: the
    arguments the data, export and serve tools ran with, every experiment with its arguments and
    scores, each remedy round, and why a target stayed unmet."""
    review = state.get("review") or {}
    lines = []
    for name in ("data", "export", "serve"):  # the agents' other decisions (train: the experiments)
        args = (state.get("steps", {}).get(name) or {}).get("args")
        if args:
            settings = ", ".join(f"{k}={v}" for k, v in args.items() if v not in (None, ""))
            lines.append(f"{tool_for(name)}({settings})")
    for e in state.get("experiments", []):
        args = e.get("args") or {}
        settings = ", ".join(f"{k}={v}" for k, v in args.items() if v not in (None, "") and k != "why")
        score = "none" if e.get("validation") is None else f"{e['validation']:.4f}"
        test = ", ".join(f"{k} {v}" for k, v in (e.get("test") or {}).items())
        lines.append(
            f"Experiment {e['n']} ({args.get('why') or 'no reason given'}; {settings}): {e['family']}, "
            f"validation {score}, test {test}; {'kept' if e.get('kept') else 'not kept'}."
        )
    for r in review.get("rounds", []):
        lines.append(
            f"Review round {r['round']}: {r['unmet']}; asked for "
            f"{r['args'].get('why') or 'another experiment'}."
        )
    if review.get("accepted"):
        lines.append("The person accepted the best model reached.")
    if review.get("final"):
        lines.append(f"Still unmet: {review['final']}")
    return lines


def fmt_value(value: float | None) -> str:
    """A number as a person reads it: 1,000,000 not 1e+06; 0.8123 not 0.812345678."""
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def requirements_table(rows: list[RequirementResult]) -> list[str]:
    lines = ["| requirement | target | achieved | met |", "|---|---|---|---|"]
    for r in rows:
        met = (
            (f"yes ({md(r.note)})" if r.note else "yes")
            if r.met
            else "not measured"
            if r.met is None
            else f"**NO** ({md(r.note)})"
            if r.note
            else "**NO**"
        )
        lines.append(f"| {md(r.name)} | {r.op} {fmt_value(r.target)} | {fmt_value(r.achieved)} | {met} |")
    if not rows:
        lines.append("| (none stated) | | | |")
    return lines


def render_markdown(report: RunReport) -> str:
    out = [f"# Run {report.run_id}", "", f"**Request:** {md(report.request)}", ""]
    out += [f"**Decision:** {report.decision}", f"**Brain:** {report.brain}"]
    out += [f"**Sandbox:** {report.sandbox}", ""] if report.sandbox else [""]
    if report.decision != "accept":
        out += ["## Why", *[f"- {md(r)}" for r in report.reasons]]
        if report.questions:
            out += ["", "## What I need from you", *[f"- {md(q)}" for q in report.questions]]
        return "\n".join(out + llm_section(report)) + "\n"
    task = report.task_type.value.replace("_", " ") if report.task_type else "?"
    verdict = "All requirements are met." if report.all_met else "Some are NOT met or unmeasured."
    out += [f"Task: {task}. {verdict}", "", "## Requirements", *requirements_table(report.requirements), ""]
    if report.model:
        out += [
            "## Model",
            f"- family: {report.model.family}",
            f"- parameters: {report.model.params:,}",
            f"- ONNX size: {report.model.size_bytes:,} bytes",
            *[f"- {md(n)}" for n in report.notes],
            "",
        ]
    if report.review:
        out += ["## Decisions and review", *[f"- {md(line)}" for line in report.review], ""]
    if report.data:
        d = report.data
        out += [
            "## Data",
            f"- {d['train_rows']:,} training rows, {d['test_rows']:,} test rows; "
            f"dropped {d['dropped_rows']:,} ({d['duplicate_rows']:,} duplicates); "
            f"{d['labels_corrected']} labels corrected with approval",
            *_label_fix_lines(d.get("label_fix")),
            *_catalog_lines(d.get("catalog") or [], d.get("catalog_rows", 0)),
            *[f"- {md(finding)}" for finding in d["findings"][:10]],
            "- details: [data card](data_card.md)"
            + (f", [data report with plots]({d['html_report']})" if d.get("html_report") else ""),
            "",
        ]
    source = "your test file" if report.test_data.get("source") == "user" else "split"
    out += [
        f"## Held-out metrics ({report.test_data.get('rows')} rows, {source})",
        "| metric | value |",
        "|---|---|",
        *[f"| {md(k)} | {v:.4f} |" for k, v in report.metrics.items()],
        "",
    ]
    if report.exports:
        parity = report.exports.get("parity", {})
        lat = report.exports.get("latency_ms", {})
        out += [
            "## Export",
            f"- ONNX: `{report.exports.get('onnx')}`",
            f"- parity with the original on {parity.get('n')} test rows: label agreement "
            f"{parity.get('label_agreement', 0):.2%}, "
            f"max probability difference {parity.get('max_abs_diff')}",
            "- latency at batch 1 (onnxruntime, in process, the float model): "
            + ", ".join(f"{k} {v:.3f} ms" for k, v in lat.items()),
            "",
            "### Float and int8",
            *report.exports.get("variants", []),
            "",
        ]
    if report.service:
        svc = report.service
        measured = svc.get("measured", {}) or {}
        out += [
            "## Service",
            f"- URL: {svc['url']} (docs: {svc['docs_url']}, metrics: {svc['metrics_url']})",
            f"- state: {'running' if svc.get('running') else 'stopped after the checks'}",
            f"- smoke test: {md_json(svc.get('smoke', {}), indent=None, default=str)[:400]}",
            "- measured: " + ", ".join(f"{k} {v}" for k, v in measured.items()),
            *service_lines(svc),
            "",
        ]
    out += ["## Time per stage (s)", "| stage | seconds |", "|---|---|"]
    out += [f"| {k} | {v:.2f} |" for k, v in report.durations.items()]
    out += reuse_section(report.reused)
    out += llm_section(report)
    out += ["", "See also: [data card](data_card.md), [model card](model_card.md), `transcript.jsonl`."]
    return "\n".join(out) + "\n"


def reuse_section(reused: dict[str, Any]) -> list[str]:
    """`run --reuse`, one line per step: reused from which run (its inputs' SHA-256, the files
    copied and checked), or why the step did its work again."""
    if not reused:
        return []
    out = ["", "## Reused (--reuse)"]
    for step, r in reused.items():
        if r.get("reused"):
            out.append(
                f"- {step}: reused from run {md(r['from_run'])} (`{md(r['from_dir'])}`): inputs SHA-256 "
                f"`{r['key'][:16]}`, {len(r.get('files') or {})} file(s) copied in, each checked against its "
                f"SHA-256 (report.json lists them); {r.get('seconds_then', 0):.1f} s of work not repeated"
            )
        else:
            out.append(f"- {step}: done again: {md(str(r.get('why')))}")
    return out


def llm_section(report: RunReport) -> list[str]:
    """The LLM brain's cross-check and usage (calls, tokens, cost per agent); empty offline."""
    out: list[str] = []
    check = report.cross_check
    if check:
        out += ["", "## Cross-check: the LLM's reading of the request vs the parser's"]
        out += [f"- {md(d)}" for d in check.get("disagreements", [])] or ["- they agree"]
    usage = report.llm_usage
    if usage.get("calls"):
        out += ["", "## LLM usage", "| agent | calls | prompt tokens | completion tokens | cost (USD) |"]
        out += ["|---|---|---|---|---|"]
        rows = [*usage.get("per_agent", {}).items(), ("total", usage)]
        for name, u in rows:
            tokens = f"{u['prompt_tokens']:,} | {u['completion_tokens']:,}"
            out.append(f"| {name} | {u['calls']} | {tokens} | {u['cost']:.4f} |")
    return out


def service_lines(svc: dict[str, Any]) -> list[str]:
    """The Server agent's sizing, its load-test check, and the interface documents."""
    est, load, docs = svc.get("estimate") or {}, svc.get("load_test") or {}, svc.get("artifacts") or {}
    out = []
    if est:
        out.append(f"- estimate: {est.get('summary')} ({est.get('rule')})")
    if load:
        err = est.get("error") or {}
        out.append(
            f"- load test (open loop, one replica): {load.get('offered_qps')} QPS offered for "
            f"{load.get('seconds')} s, {load.get('achieved_qps')} achieved, p95 {load.get('p95_ms')} ms, "
            f"{load.get('errors')} errors; estimate error: QPS {err.get('qps_error')}, "
            f"p95 {err.get('p95_error')}"
        )
    if docs:
        out.append(
            f"- API: `{docs.get('api_md')}`, Kubernetes: `{docs.get('k8s')}`, image `{docs.get('image')}`"
        )
    return out


def write_report(run_dir: str | Path, report: RunReport) -> None:
    run_dir = Path(run_dir)
    _atomic_write(run_dir / "report.md", render_markdown(report))
    if report.decision == "accept" and (run_dir / "model_card.md").exists():
        card = (run_dir / "model_card.md").read_text(encoding="utf-8")
        marker = "\n## Requirements (target vs achieved)\n"
        variants = "\n## Served variant (float and int8)\n"
        card = card.split(marker)[0].split(variants)[0].rstrip() + "\n"
        if report.exports.get("variants"):
            card += variants + "\n".join(report.exports["variants"]) + "\n"
        card += marker + "\n".join(requirements_table(report.requirements))
        _atomic_write(run_dir / "model_card.md", card + "\n")
        metrics = {"heldout": report.metrics, "requirements": [r.model_dump() for r in report.requirements]}
        _atomic_write(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    # report.json last: its presence means the run finished.
    _atomic_write(run_dir / "report.json", report.model_dump_json(indent=2))


def _atomic_write(path: Path, text: str) -> None:

    write_atomic(path, text)


def _catalog_lines(trials: list[dict], added: int) -> list[str]:
    """Each catalog data set tried: with/without on the person's rows, source, licence, decision."""
    lines = []
    for t in trials:
        if t["decision"] == "not tried":
            lines.append(f"- catalog data '{md(t['name'])}': not tried ({md(t['reason'])})")
            continue
        by = f" by {md(t['by'])}" if t.get("by") else ""
        lines.append(
            f"- catalog data '{md(t['name'])}' ({t['rows']:,} rows; "
            f"source {md(t['source'] or 'not recorded')}, licence {md(t['licence'] or 'not recorded')}): "
            f"{t['metric']} on your own training rows "
            f"{t['without']:.4f} without, {t['with_catalog']:.4f} with ({t['gain']:+.4f}): "
            f"{md(t['decision'])}{by}"
        )
    if trials:
        lines.append(
            f"- training rows from the catalog: {added:,} (data/catalog_rows.csv); the test set is yours only"
        )
    return lines


def _label_fix_lines(t: dict | None) -> list[str]:
    """The relabelling trial in one line: with/without on the person's labels, and the decision."""
    if not t:
        return []
    return [
        f"- relabelling trial: {t['proposed']} corrections proposed; {t['metric']} on your own labels "
        f"{t['without']:.4f} without, {t['with_corrections']:.4f} with ({t['gain']:+.4f}, higher in "
        f"{t['wins']:.0%} of bootstrap resamples): {t['decision']}. Cross-validation and model choice "
        "score on your labels."
    ]
