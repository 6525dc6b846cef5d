"""The ONNX graph of a trained PyTorch text net (`skills.model.torch_text`, `skills.model.hf_text`,
`skills.model.embed_text`), with the same conventions as
`skills.export.export`: one string input "text" [None, 1]; outputs "label" and "probabilities" (columns in
the order of the metadata's "labels"); the metadata key "trainer_agent" describes the model.

The graph tokenizes by itself: StringNormalizer (lower case) -> Tokenizer (the training regex) ->
LabelEncoder (token -> id, unknown -> 1) -> Slice (first max_len tokens) -> the exported net ->
ArgMax -> LabelEncoder (index -> label).

    onx = text_net_to_onnx(net, config, info)      # an onnx ModelProto
"""

from __future__ import annotations

import io
from typing import Any

from trainer_agent.skills.model.text_net import PAD_TOKEN

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
