"""The ONNX graph of the image models (`skills.model.train_image`), with `skills.export.export`'s
conventions: one input "image", uint8 [N, side, side, channels] (already decoded and resized:
`skills.export.onnx_predict` does that in Python from the side and channels in the metadata);
outputs "label" and
"probabilities" (columns in the order of the metadata's "labels"); metadata key "trainer_agent".

In the graph: Cast to float and scale to [0, 1], then either Reshape -> MatMul -> Add -> Softmax
(the logistic regression; a binary one gives [-z/2, z/2] to Softmax, which equals its sigmoid) or
Transpose to NCHW -> the exported CNN (or transformers net, `skills.model.hf_image`, which converts,
resizes and normalises inside); then ArgMax -> LabelEncoder (index -> label). Constants
that are not learned are Constant nodes, so `skills.export.export.onnx_param_count` counts exactly the
model's parameters (but for a pretrained ResNet, whose batch norm the export folds into the
convolutions: fewer by the folded channels).

    onx = image_to_onnx((net, config), info)        # or image_to_onnx(pipeline, info)
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from trainer_agent.skills.export.text_net_onnx import label_nodes

OPSET = 17
IR_VERSION = 8  # the IR of opset 17; onnx's newer default is more than onnxruntime reads
EXAMPLE_SIDE = 64  # the example image in the metadata and the API docs is at most this big


def _const(name: str, value: Any) -> Any:
    from onnx import helper, numpy_helper

    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_value"))


def _head(nodes: list[Any], side: int, channels: int) -> Any:
    """Input "image" uint8 NHWC -> "pixels" float in [0, 1]."""
    import numpy as np
    from onnx import TensorProto, helper

    nodes += [
        helper.make_node("Cast", ["image"], ["pre_float"], to=TensorProto.FLOAT),
        _const("pre_scale", np.array(1.0 / 255.0, dtype=np.float32)),
        helper.make_node("Mul", ["pre_float", "pre_scale"], ["pixels"]),
    ]
    return helper.make_tensor_value_info("image", TensorProto.UINT8, [None, side, side, channels])


def _outputs(n: int) -> list[Any]:
    from onnx import TensorProto, helper

    return [
        helper.make_tensor_value_info("label", TensorProto.STRING, [None]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n]),
    ]


def logistic_to_onnx(pipe: Any, side: int, channels: int) -> Any:
    """The graph of a pixels -> LogisticRegression pipeline."""
    import numpy as np
    from onnx import helper, numpy_helper

    clf = pipe.named_steps["clf"]
    labels = [str(c) for c in clf.classes_]
    nodes: list[Any] = []
    image = _head(nodes, side, channels)
    coef = np.ascontiguousarray(clf.coef_.T.astype(np.float32))  # [features, rows]
    inits = [
        numpy_helper.from_array(coef, "coef"),
        numpy_helper.from_array(clf.intercept_.astype(np.float32), "intercept"),
    ]
    nodes += [
        _const("flat_shape", np.array([-1, side * side * channels], dtype=np.int64)),
        helper.make_node("Reshape", ["pixels", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "coef"], ["scores"]),
        helper.make_node("Add", ["scores", "intercept"], ["logits"]),
    ]
    if coef.shape[1] == 1:  # binary: sklearn's sigmoid(z) is the softmax of [-z/2, z/2]
        nodes += [
            _const("half", np.array(0.5, dtype=np.float32)),
            helper.make_node("Mul", ["logits", "half"], ["half_z"]),
            helper.make_node("Neg", ["half_z"], ["minus_half_z"]),
            helper.make_node("Concat", ["minus_half_z", "half_z"], ["both"], axis=1),
            helper.make_node("Softmax", ["both"], ["probabilities"], axis=1),
        ]
    else:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    nodes += label_nodes(labels)
    graph = helper.make_graph(nodes, "pixels_logistic_regression", [image], _outputs(len(labels)), inits)
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 3)],
        ir_version=IR_VERSION,
    )


def net_to_onnx(model: Any, config: Any) -> Any:
    """The graph of a trained small CNN, with the uint8 NHWC input and the label output around it."""
    import onnx
    import torch
    from onnx import helper

    buf = io.BytesIO()
    dummy = torch.zeros((2, config.channels, config.side, config.side), dtype=torch.float32)
    with warnings.catch_warnings():
        # shape tests on channels and side (the transformers nets) are fixed by the input: constants
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            model.eval(),
            (dummy,),
            buf,  # type: ignore[arg-type]
            input_names=["nchw"],
            output_names=["probabilities"],
            dynamic_axes={"nchw": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )
    core = onnx.load_from_string(buf.getvalue())
    graph = core.graph
    del graph.input[:]
    pre: list[Any] = []
    graph.input.append(_head(pre, config.side, config.channels))
    pre.append(helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]))
    nodes = [*pre, *graph.node, *label_nodes(list(config.labels))]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend(_outputs(len(config.labels)))
    if "ai.onnx.ml" not in {o.domain for o in core.opset_import}:
        core.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    return core


def image_to_onnx(model: Any, info: dict[str, Any], example: Any = None) -> Any:
    """The ONNX ModelProto of a trained image model (either family), with trainer-agent's metadata."""
    import onnx

    from trainer_agent.skills.export.onnx_tail import stamp_metadata

    spec = info["inputs"][0]
    side, channels = int(spec["side"]), int(spec["channels"])
    if info.get("framework") == "torch":
        net, config = model
        onx, labels = net_to_onnx(net, config), list(config.labels)
    else:
        onx, labels = (
            logistic_to_onnx(model, side, channels),
            [str(c) for c in model.named_steps["clf"].classes_],
        )
    stamp_metadata(onx, info, labels, example)
    onnx.checker.check_model(onx)
    return onx
