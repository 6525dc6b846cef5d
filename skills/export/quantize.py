"""Int8 ONNX quantization (onnxruntime dynamic quantization) with a parity check.

    result = quantize_int8("runs/<id>/exports/model.onnx", rows)   # -> exports/model.int8.onnx

Dynamic quantization stores the weights of MatMul/Gemm/Conv-like ops as int8 and quantizes their
activations at run time. Graphs without such ops (scikit-learn's linear models, tree ensembles,
TF-IDF) have nothing to quantize: the result says so and the float model stays the one served.
The int8 model is kept only when its labels agree with the float model's on at least
`min_agreement` of the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Ops that onnxruntime's dynamic quantizer rewrites to integer kernels.
QUANTIZABLE_OPS = frozenset({"MatMul", "Gemm", "Conv", "Attention", "LSTM", "GRU", "EmbedLayerNormalization"})
MIN_AGREEMENT = 0.99


def quantizable_ops(model: Any) -> list[str]:
    """Names of the quantizable op types in an onnx ModelProto, sorted."""
    return sorted({n.op_type for n in model.graph.node if n.op_type in QUANTIZABLE_OPS})


def quantize_int8(
    onnx_path: str | Path,
    rows: list[Any],
    out_path: str | Path | None = None,
    min_agreement: float = MIN_AGREEMENT,
) -> dict[str, Any]:
    """Write an int8 copy of the model (default: beside it as model.int8.onnx) and compare it with
    the float model on `rows`. Returns `status`: "skipped" (nothing to quantize), "kept" or
    "rejected" (parity too low; the file is removed), with sizes, parity and batch-1 latency."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.export.timing import batches_of, percentiles, time_calls

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
    # The quantizer keeps the graph but not always the model's metadata: copy it over.
    quant = onnx.load(str(out))
    have = {p.key for p in quant.metadata_props}
    for prop in model.metadata_props:
        if prop.key not in have:
            entry = quant.metadata_props.add()
            entry.key, entry.value = prop.key, prop.value
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
    singles = batches_of(rows, 1)
    latency = {
        "float": percentiles(time_calls(lambda b: ref.run(ref.feeds(b)), singles, 100)),
        "int8": percentiles(time_calls(lambda b: q8.run(q8.feeds(b)), singles, 100)),
    }
    kept = agreement >= min_agreement
    result = {
        "status": "kept" if kept else "rejected",
        "path": str(out) if kept else None,
        "quantized_ops": ops,
        "size_bytes": {"float": src.stat().st_size, "int8": out.stat().st_size},
        "parity": {"n": len(rows), "label_agreement": agreement, "max_abs_diff": max_diff},
        "latency_ms_batch_1": latency,
    }
    if not kept:
        result["reason"] = (
            f"label agreement {agreement:.4f} is below {min_agreement}; keeping the float model"
        )
        out.unlink(missing_ok=True)
    return result
