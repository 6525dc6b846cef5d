"""Int8 ONNX quantization (onnxruntime dynamic quantization) with a parity check and a measurement.

    result = quantize_int8("runs/<id>/exports/model.onnx", rows, truth)   # -> exports/model.int8.onnx

Dynamic quantization stores the weights of MatMul/Gemm/Conv-like ops as int8 and quantizes their
activations at run time. Graphs without such ops (scikit-learn's linear models, tree ensembles,
TF-IDF) have nothing to quantize: the result says so and the float model stays the one served.
An int8 copy whose labels agree with the float model's on fewer than `min_agreement` of the rows
is "rejected" (and removed); one that agrees is a "candidate", measured against the float model
(file size, batch-1 latency, agreement, held-out metrics). Whether a candidate is served is
`skills.export.variant.choose_int8`'s decision, which the requirements drive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.export.onnx_predict import META_KEY, OnnxPredictor
from trainer_agent.skills.export.timing import batches_of, compare_calls

# Ops that onnxruntime's dynamic quantizer rewrites to integer kernels.
QUANTIZABLE_OPS = frozenset({"MatMul", "Gemm", "Conv", "Attention", "LSTM", "GRU", "EmbedLayerNormalization"})
MIN_AGREEMENT = 0.99
LATENCY_CALLS = 200  # batch-1 calls per variant, in alternating rounds


def quantizable_ops(model: Any) -> list[str]:
    """Names of the quantizable op types in an onnx ModelProto, sorted."""
    return sorted({n.op_type for n in model.graph.node if n.op_type in QUANTIZABLE_OPS})


def quantize_int8(
    onnx_path: str | Path,
    rows: list[Any],
    out_path: str | Path | None = None,
    min_agreement: float = MIN_AGREEMENT,
    truth: Sequence[Any] | None = None,
    latency_calls: int = LATENCY_CALLS,
) -> dict[str, Any]:
    """Write an int8 copy of the model (default: beside it as model.int8.onnx) and compare it with
    the float model on `rows`. Returns `status`: "skipped" (nothing to quantize), "candidate"
    (parity holds; the file stays, the caller decides) or "rejected" (parity too low; the file is
    removed), with both files' sizes, the label agreement, both variants' batch-1 latency (timed in
    alternating rounds on the first rows, one onnxruntime thread each) and, with `truth` (the true
    labels or values of `rows`), both variants' held-out metrics on the same rows."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from trainer_agent.skills.model.evaluate import compute_metrics

    src = Path(onnx_path)
    model = onnx.load(str(src))
    ops = quantizable_ops(model)
    if not ops:
        kinds = ", ".join(sorted({n.op_type for n in model.graph.node}))
        return {
            "status": "skipped",
            "reason": f"the graph has no MatMul/Gemm/Conv-like ops to quantize (it has {kinds}); "
            "keeping the float model",
        }
    out = Path(out_path) if out_path else src.with_name(src.stem + ".int8.onnx")
    try:
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8)
    except (RuntimeError, ValueError) as err:  # e.g. ops whose types shape inference cannot tell
        out.unlink(missing_ok=True)
        return {
            "status": "skipped",
            "reason": f"onnxruntime could not quantize this graph ({str(err).split('.')[0]}); "
            "keeping the float model",
        }
    # The quantizer keeps the graph but not always the model's metadata: copy it over, and mark the
    # copy as the int8 variant (the service says which variant it serves).
    quant = onnx.load(str(out))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({p.key: p.value for p in quant.metadata_props if p.key not in props})
    if META_KEY in props:
        props[META_KEY] = json.dumps({**json.loads(props[META_KEY]), "variant": "int8"})
    del quant.metadata_props[:]
    for key, value in props.items():
        entry = quant.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(quant, str(out))

    ref, q8 = OnnxPredictor(src, threads=1), OnnxPredictor(out, threads=1)
    ref_out, ref_proba = ref.run(ref.feeds(rows))
    q_out, q_proba = q8.run(q8.feeds(rows))
    if ref.is_classifier:
        agreement = float(np.mean(ref_out == q_out))
        max_diff = float(np.abs(ref_proba - q_proba).max())
    else:
        diff = np.abs(ref_out - q_out)
        agreement = float(np.mean(diff <= 1e-2 * np.maximum(1.0, np.abs(ref_out))))
        max_diff = float(diff.max())
    latency = compare_calls(
        {"float": lambda b: ref.run(ref.feeds(b)), "int8": lambda b: q8.run(q8.feeds(b))},
        batches_of(rows[:latency_calls], 1),
        latency_calls,
    )
    passed = agreement >= min_agreement
    result: dict[str, Any] = {
        "status": "candidate" if passed else "rejected",
        "path": str(out) if passed else None,
        "quantized_ops": ops,
        "size_bytes": {"float": src.stat().st_size, "int8": out.stat().st_size},
        "parity": {"n": len(rows), "label_agreement": agreement, "max_abs_diff": max_diff},
        "latency_ms_batch_1": latency,
    }
    if truth is not None and len(truth) == len(rows):
        task = ref.task_type
        if ref.is_classifier:
            y = [str(v) for v in truth]
            result["metrics"] = {
                "float": compute_metrics(task, y, ref_out, ref_proba, ref.labels),
                "int8": compute_metrics(task, y, q_out, q_proba, ref.labels),
            }
        else:
            y_num = [float(v) for v in truth]
            result["metrics"] = {
                "float": compute_metrics(task, y_num, ref_out),
                "int8": compute_metrics(task, y_num, q_out),
            }
    if not passed:
        result["reason"] = (
            f"label agreement {agreement:.4f} is below {min_agreement}; keeping the float model"
        )
        out.unlink(missing_ok=True)
    return result
