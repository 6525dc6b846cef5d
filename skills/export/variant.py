"""Which ONNX file the service serves: the float model, or its int8 copy when a requirement needs it.

    limits = compression_limits(spec.requirements)   # upper bounds on size, memory or latency
    quantization = choose_int8(quantize_int8(path, rows, truth=y), spec.requirements)
    served_file(run_dir / "exports")                 # model.int8.onnx only while it is the one served

An int8 copy is an experiment, not a default (`int8_wanted`: tried only under such a limit, unless
asked for). A candidate (parity held, `skills.export.quantize`) is kept, and served, only when

- a limit on size, memory or latency is stated and int8 misses none that the float model meets,
  and either the float model misses one that int8 meets, or int8 measures better on a limited axis
  and no worse on the other (size against batch-1 latency);
- or, asked for without such a limit (`export_model(quantize=true)`), it is smaller and no slower.

Otherwise its file is removed and the result says "not kept" with the reason in one sentence.
Memory is judged by the file's size (the weights onnxruntime holds); the service's peak memory is
then measured on the variant served. Latency is the variants' batch-1 percentiles timed alternately
on the same rows, and one counts as faster or slower only beyond LATENCY_MARGIN, so timing noise
decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.markdown_safe import md_text as md
from trainer_agent.skills.specs import COMPRESSION_AXES, ExportResult, Requirement

LATENCY_MARGIN = 0.05  # a variant is faster or slower only beyond 5% of the other's time
FLOAT_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"


def compression_limits(requirements: Sequence[Requirement]) -> list[Requirement]:
    """The stated upper bounds an int8 copy could help meet: size, memory and latency limits."""
    return [r for r in requirements if r.name in COMPRESSION_AXES and r.op in ("<", "<=")]


def int8_wanted(requirements: Sequence[Requirement]) -> bool:
    """Whether the export should try an int8 copy by default: only under a size, memory or latency limit."""
    return bool(compression_limits(requirements))


def served_file(exports_dir: str | Path) -> Path:
    """The ONNX file a run serves: its int8 copy when the export kept it (an int8 copy that is not
    served is removed), else the float model."""
    int8 = Path(exports_dir) / INT8_FILE
    return int8 if int8.is_file() else Path(exports_dir) / FLOAT_FILE


def _value(q: dict[str, Any], req: Requirement, variant: str) -> float | None:
    """What `variant` measured for `req` at export, or None where export does not measure it (memory)."""
    if req.name == "size_bytes":
        return float(q["size_bytes"][variant])
    pct = req.name.removeprefix("latency_").removesuffix("_ms")
    got = (q.get("latency_ms_batch_1") or {}).get(variant, {}).get(pct)
    return None if req.name == "memory_mb" or got is None else float(got)


def _meets(q: dict[str, Any], req: Requirement, variant: str) -> bool | None:
    value = _value(q, req, variant)
    return None if value is None else req.is_met(value)


def _compare(q: dict[str, Any]) -> tuple[dict[str, str], str]:
    """int8 against float on size and batch-1 p50 latency ("better", "same" or "worse"), and the
    facts in words: "int8 is 3.1x smaller (2,048 vs 6,400 bytes) and 2.4x slower at batch 1 (...)"."""
    size_f, size_q = q["size_bytes"]["float"], q["size_bytes"]["int8"]
    lat = q.get("latency_ms_batch_1") or {}
    lat_f, lat_q = (lat.get("float") or {}).get("p50"), (lat.get("int8") or {}).get("p50")
    verdict = {"size": "better" if size_q < size_f else "same" if size_q == size_f else "worse"}
    if size_q < size_f:
        size_words = f"{size_f / max(size_q, 1):.1f}x smaller"
    else:
        size_words = "no smaller" if size_q == size_f else f"{size_q / max(size_f, 1):.1f}x larger"
    words = f"int8 is {size_words} ({size_q:,} vs {size_f:,} bytes)"
    if lat_f and lat_q:
        if lat_q <= lat_f * (1 - LATENCY_MARGIN):
            verdict["latency"], speed = "better", f"{lat_f / lat_q:.1f}x faster"
        elif lat_q > lat_f * (1 + LATENCY_MARGIN):
            verdict["latency"], speed = "worse", f"{lat_q / lat_f:.1f}x slower"
        else:
            verdict["latency"], speed = "same", "as fast"
        words += f" and {speed} at batch 1 (p50 {lat_q:.3f} vs {lat_f:.3f} ms)"
    return verdict, words


def _limit(req: Requirement) -> str:
    target = f"{req.target:,.0f}" if req.name == "size_bytes" else f"{req.target:g}"
    return f"{req.name} {req.op} {target}"


def choose_int8(quantization: dict[str, Any], requirements: Sequence[Requirement]) -> dict[str, Any]:
    """Decide whether a "candidate" int8 copy (`skills.export.quantize.quantize_int8`) is served:
    the result's status becomes "kept" or "not kept" with the reason in one sentence, and the
    copy's file is removed when not kept. Other statuses (off, skipped, rejected) pass unchanged."""
    q = dict(quantization)
    if q.get("status") != "candidate":
        return q
    limits = compression_limits(requirements)
    verdict, facts = _compare(q)
    misses = [r for r in limits if _meets(q, r, "float") is True and _meets(q, r, "int8") is False]
    needs = [r for r in limits if _meets(q, r, "float") is False and _meets(q, r, "int8") is True]
    axes = sorted(
        {"size" if COMPRESSION_AXES[r.name] == "memory" else COMPRESSION_AXES[r.name] for r in limits}
    )
    better = [a for a in axes or ["size", "latency"] if verdict.get(a) == "better"]
    worse = [a for a in ("size", "latency") if verdict.get(a) == "worse"]
    stated = ", ".join(_limit(r) for r in limits)
    if misses:
        keep = False
        reason = (
            f"{facts}, and it would miss {', '.join(_limit(r) for r in misses)}, which the float model meets"
        )
    elif needs:
        keep = True
        reason = f"the float model misses {', '.join(_limit(r) for r in needs)} and int8 meets it: {facts}"
    elif limits and better and not worse:
        keep = True
        reason = f"{facts}, which the stated limit ({stated}) asks for"
    elif limits:
        keep = False
        gain = (
            f"better on {' and '.join(better)} but worse on {' and '.join(worse)}"
            if better
            else f"not better on {' and '.join(axes)}"
        )
        met = [_limit(r) for r in limits if _meets(q, r, "float") is True]
        reason = f"{facts}: {gain}" + (f", and the float model already meets {', '.join(met)}" if met else "")
    elif better == ["size", "latency"] or (better == ["size"] and not worse):
        keep = True
        reason = f"{facts}, and it was asked for (no size, latency or memory limit is stated)"
    else:
        keep = False
        reason = f"{facts}, and no size, latency or memory requirement asks for it"
    q["status"] = "kept" if keep else "not kept"
    q["reason"] = reason
    q["judged_on"] = axes or ["size", "latency"]
    if not keep and q.get("path"):
        Path(q["path"]).unlink(missing_ok=True)
        q["path"] = None
    return q


def served_numbers(quantization: dict[str, Any]) -> dict[str, Any]:
    """The kept int8 copy's size, batch-1 latency and held-out metrics, as the requirement checks
    read them; {} when the float model is served."""
    if quantization.get("status") != "kept":
        return {}
    return {
        "size_bytes": quantization["size_bytes"]["int8"],
        "latency_ms": dict((quantization.get("latency_ms_batch_1") or {}).get("int8") or {}),
        "metrics": dict((quantization.get("metrics") or {}).get("int8") or {}),
    }


def _main_metric(metrics: dict[str, Any]) -> str | None:
    return next((k for k in ("accuracy", "r2", "rmse") if k in metrics), None)


def comparison_lines(export: ExportResult) -> list[str]:
    """Markdown for report.md and the model card: the float model and its int8 copy side by side
    (file size, batch-1 latency, agreement with the float model, the held-out metric), which one is
    served, and why."""
    q = export.quantization or {}
    measured = "size_bytes" in q and "latency_ms_batch_1" in q
    metrics = q.get("metrics") or {}
    main = _main_metric(metrics.get("float") or export.parity.onnx_metrics)
    lines = [
        f"| variant | file size (bytes) | batch-1 latency p50 / p95 (ms) | label agreement with float "
        f"| {md(main or 'held-out metric')} | served |",
        "|---|---|---|---|---|---|",
    ]
    float_lat = (q["latency_ms_batch_1"].get("float") if measured else None) or export.latency_ms
    float_metric = (metrics.get("float") or export.parity.onnx_metrics).get(main or "")
    rows = [("float", export.size_bytes, float_lat, 1.0, float_metric)]
    if measured:
        int8_metric = (metrics.get("int8") or {}).get(main or "")
        agreement = float(q["parity"]["label_agreement"])
        rows.append(
            ("int8", q["size_bytes"]["int8"], q["latency_ms_batch_1"]["int8"], agreement, int8_metric)
        )
    for name, size, lat, agree, metric in rows:
        timing = f"{lat.get('p50', 0):.3f} / {lat.get('p95', 0):.3f}" if lat else "n/a"
        value = "n/a" if metric is None else f"{metric:.4f}"
        served = "**yes**" if export.served == name else "no"
        lines.append(f"| {name} | {int(size):,} | {timing} | {agree:.2%} | {value} | {served} |")
    status = q.get("status", "off")
    why = q.get("reason") or ""
    if export.served == "int8":
        lines.append(f"- served: the int8 copy (`{md(Path(export.served_file).name)}`), because {md(why)}.")
    else:
        said = why if status == "off" else f"{status}: {why}"  # an "off" reason starts "not tried"
        lines.append(f"- served: the float model; int8 {md(said)}.")
    if measured:
        lines.append(
            "- latency: both variants timed alternately on the same held-out rows, one onnxruntime "
            "thread each, after a warm-up; agreement and metrics on the same held-out rows."
        )
    return lines
