"""TensorRT engine from the ONNX model, where an NVIDIA GPU and the `gpu` extra (tensorrt) exist.

    result = tensorrt_engine("runs/<id>/exports/model.onnx", rows, precision="fp16")

Without a GPU, without tensorrt, or for graphs TensorRT cannot run (scikit-learn's ai.onnx.ml ops
such as TreeEnsemble and TfIdfVectorizer, or string inputs), the result is "skipped" with the
reason, and the ONNX model stays the one served by onnxruntime. With one, the engine is built
(FP16 or INT8 flags as asked; INT8 without a calibration cache needs a quantized QDQ model, so
plain INT8 falls back to FP16 and says so) and checked against onnxruntime on `rows`.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from typing import Any

from trainer_agent.skills.export.onnx_predict import OnnxPredictor

PRECISIONS = ("fp32", "fp16", "int8")
MAX_BATCH = 64


def nvidia_gpus() -> list[str]:
    """Names of the NVIDIA GPUs this process can see (nvidia-smi, else the driver's /proc)."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            if out.returncode == 0:
                return [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    proc = Path("/proc/driver/nvidia/gpus")
    return [p.name for p in proc.iterdir()] if proc.is_dir() else []


def tensorrt_installed() -> bool:
    return importlib.util.find_spec("tensorrt") is not None


def unsupported_parts(onnx_path: str | Path) -> list[str]:
    """What in the graph TensorRT cannot run: string inputs and ops outside the default domain."""
    import onnx

    model = onnx.load(str(onnx_path))
    issues = [
        f"string input '{i.name}'"
        for i in model.graph.input
        if i.type.tensor_type.elem_type == onnx.TensorProto.STRING
    ]
    foreign = sorted({f"{n.domain}:{n.op_type}" for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    issues += [f"op {op}" for op in foreign]
    return issues


def detect(onnx_path: str | Path) -> dict[str, Any]:
    """Whether a TensorRT engine can be built here for this model, and if not, why."""
    gpus = nvidia_gpus()
    info: dict[str, Any] = {"gpus": gpus, "tensorrt": tensorrt_installed()}
    if not gpus:
        info["reason"] = "no NVIDIA GPU: keeping ONNX on onnxruntime (CPU)"
    elif not info["tensorrt"]:
        info["reason"] = "tensorrt is not installed (pip install 'trainer-agent[gpu]'): keeping ONNX"
    else:
        parts = unsupported_parts(onnx_path)
        if parts:
            info["reason"] = f"TensorRT cannot run {', '.join(parts[:4])}: keeping ONNX on onnxruntime"
    info["possible"] = "reason" not in info
    return info


def tensorrt_engine(
    onnx_path: str | Path,
    rows: list[Any] | None = None,
    precision: str = "fp16",
    out_path: str | Path | None = None,
) -> dict[str, Any]:
    """Build exports/model.<precision>.plan when possible; otherwise say why not."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    found = detect(onnx_path)
    if not found["possible"]:
        return {"status": "skipped", "reason": found["reason"], "gpus": found["gpus"]}
    src = Path(onnx_path)
    out = Path(out_path) if out_path else src.with_name(f"{src.stem}.{precision}.plan")
    try:
        built = _build(src, out, precision)
    except Exception as err:  # a parser/builder gap: report it and keep serving ONNX
        return {
            "status": "failed",
            "reason": f"TensorRT build failed: {err}; keeping ONNX",
            "gpus": found["gpus"],
        }
    result: dict[str, Any] = {"status": "built", "path": str(out), "gpus": found["gpus"], **built}
    if rows:
        result["parity"] = _parity(src, out, rows)
    return result


def _build(src: Path, out: Path, precision: str) -> dict[str, Any]:  # pragma: no cover - needs a GPU
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(src.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"the ONNX parser refused the model: {errors}")
    config = builder.create_builder_config()
    notes = []
    used = precision
    if precision == "int8":
        notes.append("INT8 needs a calibration cache or a QDQ model; built FP16 instead")
        used = "fp16"
    if used == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = list(tensor.shape)
        lo = [1 if d == -1 else d for d in shape]
        hi = [MAX_BATCH if (d == -1 and k == 0) else (1 if d == -1 else d) for k, d in enumerate(shape)]
        profile.set_shape(tensor.name, lo, lo, hi)
    config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise RuntimeError("the builder returned no engine")
    out.write_bytes(bytes(engine))
    return {"precision": used, "notes": notes, "size_bytes": out.stat().st_size, "max_batch": MAX_BATCH}


def _parity(src: Path, plan: Path, rows: list[Any]) -> dict[str, Any]:  # pragma: no cover - needs a GPU
    """Run the engine (I/O as torch CUDA tensors) and onnxruntime on the same rows; compare."""
    import numpy as np
    import tensorrt as trt
    import torch

    predictor = OnnxPredictor(src)
    feeds = predictor.feeds(rows[:MAX_BATCH])
    reference = predictor.session.run(None, feeds)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(plan.read_bytes())
    context = engine.create_execution_context()
    buffers: dict[str, Any] = {}
    for name, value in feeds.items():
        buffers[name] = torch.from_numpy(np.ascontiguousarray(value)).cuda()
        context.set_input_shape(name, tuple(value.shape))
    outputs = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    outputs = [n for n in outputs if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    for name in outputs:
        dtype = torch.from_numpy(np.zeros(1, dtype=trt.nptype(engine.get_tensor_dtype(name)))).dtype
        buffers[name] = torch.empty(tuple(context.get_tensor_shape(name)), dtype=dtype, device="cuda")
    for name, tensor in buffers.items():
        context.set_tensor_address(name, tensor.data_ptr())
    stream = torch.cuda.Stream()
    context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    got = [buffers[n].cpu().numpy() for n in outputs]
    diffs = [
        float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).max())
        for a, b in zip(reference, got, strict=False)
    ]
    return {"n": len(next(iter(feeds.values()))), "max_abs_diff": max(diffs) if diffs else None}
