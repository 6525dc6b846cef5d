"""ONNX export of the PyTorch text nets (`skills.model.torch_text`), with the same conventions as
`skills.export.export`: one string input "text" [None, 1]; outputs "label" and "probabilities" (columns in
the order of the metadata's "labels"); the metadata key "trainer_agent" describes the model.

The graph tokenizes by itself: StringNormalizer (lower case) -> Tokenizer (the training regex) ->
LabelEncoder (token -> id, unknown -> 1) -> Slice (first max_len tokens) -> the exported net ->
ArgMax -> LabelEncoder (index -> label). `skills.export.export.export_onnx` hands models whose
model.json says framework "torch" to `export_torch_model`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import DataReport, ExportResult, TaskSpec, TrainResult

OPSET = 17


def label_nodes(labels: list[str]) -> list[Any]:
    """The graph's last nodes: the most probable column of "probabilities" -> its label ("label")."""
    from onnx import helper

    return [
        helper.make_node("ArgMax", ["probabilities"], ["post_index"], axis=1, keepdims=0),
        helper.make_node(
            "LabelEncoder",
            ["post_index"],
            ["label"],
            domain="ai.onnx.ml",
            keys_int64s=list(range(len(labels))),
            values_strings=list(labels),
            default_string="",
        ),
    ]


def text_net_to_onnx(model: Any, config: Any, info: dict[str, Any], example: Any = None) -> Any:
    """The ONNX ModelProto of a trained text net, string in, label and probabilities out."""
    import numpy as np
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    from trainer_agent.skills.export.onnx_tail import stamp_metadata
    from trainer_agent.skills.model.text_net import PAD_TOKEN

    # what the Tokenizer pads with must never be a token: "#" is a word of a vocabulary that keeps
    # punctuation (skills.model.embed_text), and no run of two or more "#" is a token of its pattern
    vocab = set(config.vocab)
    pad = PAD_TOKEN
    while pad in vocab:
        pad += PAD_TOKEN
    buf = io.BytesIO()
    dummy = torch.ones((2, 5), dtype=torch.long)
    torch.onnx.export(
        model.eval(),
        (dummy,),
        buf,  # type: ignore[arg-type]
        input_names=["ids"],
        output_names=["probabilities"],
        dynamic_axes={"ids": {0: "batch", 1: "length"}, "probabilities": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,  # the TorchScript exporter needs no onnxscript
    )
    core = onnx.load_from_string(buf.getvalue())
    graph = core.graph
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info("text", TensorProto.STRING, [None, 1]))
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "pre_flat_shape"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "pre_starts"),
            numpy_helper.from_array(np.array([config.max_len], dtype=np.int64), "pre_ends"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "pre_axes"),
        ]
    )
    pre = [
        helper.make_node("Reshape", ["text", "pre_flat_shape"], ["pre_text"]),
        helper.make_node(
            "StringNormalizer",
            ["pre_text"],
            ["pre_lower"],
            case_change_action="LOWER",
            is_case_sensitive=1,
            locale="C",  # onnxruntime here rejects the default (empty) locale
        ),
        helper.make_node(
            "Tokenizer",
            ["pre_lower"],
            ["pre_tokens"],
            domain="com.microsoft",
            mark=0,
            mincharnum=1,
            pad_value=pad,
            tokenexp=config.token_pattern,
        ),
        helper.make_node(
            "LabelEncoder",
            ["pre_tokens"],
            ["pre_ids"],
            domain="ai.onnx.ml",
            keys_strings=[pad, *config.vocab],
            values_int64s=[0, *range(2, len(config.vocab) + 2)],
            default_int64=1,
        ),
        helper.make_node("Slice", ["pre_ids", "pre_starts", "pre_ends", "pre_axes"], ["ids"]),
    ]
    post = label_nodes(list(config.labels))
    # The Tokenizer (a contrib op) has no schema in onnx: declare its output, or onnx's shape
    # inference (run by the int8 quantizer) crashes on the LabelEncoder that reads it.
    graph.value_info.append(helper.make_tensor_value_info("pre_tokens", TensorProto.STRING, [None, None]))
    nodes = [*pre, *graph.node, *post]
    del graph.node[:]
    graph.node.extend(nodes)
    probs = [o for o in graph.output if o.name == "probabilities"][0]
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("label", TensorProto.STRING, [None]), probs])
    have = {o.domain for o in core.opset_import}
    for domain, version in (("ai.onnx.ml", 3), ("com.microsoft", 1)):
        if domain not in have:
            core.opset_import.append(helper.make_opsetid(domain, version))
    stamp_metadata(core, info, list(config.labels), example)
    onnx.checker.check_model(core)
    return core


def export_torch_model(
    spec: TaskSpec,
    data: DataReport,
    train: TrainResult,
    out_dir: str | Path,
    quantize: bool = True,
    batch_size: int = 32,
) -> ExportResult:
    """Write out_dir/exports/model.onnx for a torch text net and check it as `export_onnx` does."""
    import numpy as np
    import pandas as pd

    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.export.onnx_tail import (
        class_parity,
        example_input,
        finish_export,
        held_out_rows,
        write_onnx,
    )
    from trainer_agent.skills.model.model_files import read_model_info
    from trainer_agent.skills.model.torch_text import load_text_net, predict_proba
    from trainer_agent.skills.specs import TaskType

    task = TaskType(spec.task_type)
    info = read_model_info(train.model_path)
    model, config = load_text_net(train.model_path)
    path = write_onnx(text_net_to_onnx(model, config, info, example_input(task, info)), out_dir)

    rows = held_out_rows(task, info, data.test_path)
    if not rows:
        raise UserError(f"Test data {data.test_path} has no rows to check the exported model on.")
    predictor = OnnxPredictor(path)
    onnx_labels, onnx_proba = predictor.run(predictor.feeds(rows))
    ref_proba = np.asarray(predict_proba(model, config, rows), dtype=float)
    ref_labels = np.asarray(config.labels, dtype=object)[ref_proba.argmax(axis=1)]
    y_test = [str(v) for v in pd.read_csv(data.test_path)[info["label_column"]]]
    parity = class_parity(task, y_test, onnx_labels, onnx_proba, ref_labels, ref_proba, predictor.labels)
    return finish_export(
        path,
        rows,
        parity,
        batch_size,
        quantize,
        tensorrt=None,
        tensorrt_skip="the graph tokenizes strings (onnxruntime contrib ops), which TensorRT cannot run",
    )
