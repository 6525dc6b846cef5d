"""Compressed variants of a trained model, each re-evaluated on the held-out data.

- Linear text models: pruning the TF-IDF features with the smallest weights (refit on the rest).
- PyTorch nets: dynamic int8 quantization of the Linear layers (torch.ao).
- ONNX files: onnxruntime dynamic int8 quantization (`onnx_int8_accuracy`, after export).

A variant replaces the model only when the model breaks a parameter or size limit and the variant
meets it (never to chase a held-out score, which would overfit the test set); every variant is
reported with its parameters and its held-out metric against the float model's.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.export.quantize import quantize_int8
from trainer_agent.skills.model.evaluate import compute
from trainer_agent.skills.model.model_size import count_params, upper_limit
from trainer_agent.skills.model.net_io import quantize_net
from trainer_agent.skills.model.search_defaults import primary_metric
from trainer_agent.skills.model.text_features import keep_whole_pairs, text_pipeline
from trainer_agent.skills.model.text_net import predict_proba
from trainer_agent.skills.specs import TaskSpec, TaskType

PRUNE_SHARES = (0.5, 0.25)


def compress(
    spec: TaskSpec,
    task: TaskType,
    info: dict[str, Any],
    trained: Any,
    x_test: Any,
    y_test: Any,
    metrics: dict[str, float],
    out: Path,
    say: Any,
) -> dict[str, Any]:

    key, _ = primary_metric(task, spec.requirements)
    base = metrics.get(key)
    variants: list[dict[str, Any]] = [
        {"name": "float (as trained)", "params": trained.params, "score": base, "kept": True}
    ]
    if task == TaskType.IMAGE_CLASSIFICATION:
        return {
            "status": "skipped",
            "reason": "image models are sized to the parameter limit while training; an ONNX int8 copy "
            "is tried at export under a size, memory or latency limit",
            "variants": variants,
        }
    if trained.framework == "torch":
        variants.append(_torch_int8(trained, info, x_test, y_test, key))
    elif (
        task == TaskType.TEXT_CLASSIFICATION
        and hasattr(getattr(trained.model, "named_steps", {}).get("clf"), "coef_")  # not an ensemble
        and trained.train_data
    ):
        variants += _prune_text(trained, info, x_test, y_test, key)
    else:
        why = (
            "pruning applies only to a single linear model's TF-IDF weights; naive Bayes and a soft "
            "vote keep theirs, with the vocabulary sized to the limits while training"
            if task == TaskType.TEXT_CLASSIFICATION
            else "trees are shrunk while training"
        )
        return {
            "status": "skipped",
            "reason": f"no compression applies to this family ({why})",
            "variants": variants,
        }
    for v in variants[1:]:
        if v.get("score") is not None and base is not None:
            v["delta"] = round(v["score"] - base, 4)
        say(
            f"compressed {v['name']}: {key} {v.get('score')} ({v.get('delta', 0):+}) "
            f"with {v.get('params')} parameters"
        )
    result: dict[str, Any] = {
        "status": "done",
        "metric": key,
        "variants": [{k: v for k, v in x.items() if k != "model"} for x in variants],
    }
    limit = upper_limit(spec.requirements, "params")
    if limit is not None and trained.params > limit:
        fits = [v for v in variants[1:] if v.get("model") is not None and v["params"] <= limit]
        if fits:
            best = max(fits, key=lambda v: v["score"])
            result["replaced_with"] = {"model": best["model"], "params": best["params"]}
            result["summary"] = (
                f"Kept the compressed variant '{best['name']}' ({best['params']:,} parameters): "
                f"the trained model broke the parameter limit."
            )
            for v in result["variants"]:
                v["kept"] = v["name"] == best["name"]
    return result


def _torch_int8(trained: Any, info: dict[str, Any], x_test: Any, y_test: Any, key: str) -> dict[str, Any]:

    import torch

    net, config = trained.model
    q = quantize_net(net)
    proba = predict_proba(q, config, list(x_test))
    import numpy as np

    pred = np.asarray(config.labels, dtype=object)[proba.argmax(axis=1)]
    score = compute(TaskType.TEXT_CLASSIFICATION, y_test, pred, proba, list(config.labels))[key]
    sizes = {}
    for name, m in (("float", net), ("int8", q)):
        buf = io.BytesIO()
        torch.save(m.state_dict(), buf)
        sizes[name] = buf.tell()
    return {
        "name": "torch dynamic int8 (Linear layers)",
        "params": trained.params,
        "score": round(score, 4),
        "size_bytes": sizes,
        "kept": False,
        "note": "served as ONNX: an int8 ONNX copy is tried at export under a size, memory or latency "
        "limit and served only when it measures better on it",
    }


def _prune_text(
    trained: Any, info: dict[str, Any], x_test: Any, y_test: Any, key: str
) -> list[dict[str, Any]]:
    import numpy as np

    pipe = trained.model
    vec, clf = pipe.named_steps["tfidf"], pipe.named_steps["clf"]
    terms = np.asarray(vec.get_feature_names_out(), dtype=object)
    weight = np.abs(clf.coef_).max(axis=0)
    x, y = trained.train_data
    binary = len(clf.classes_) == 2
    out = []
    for share in PRUNE_SHARES:
        k = max(1, int(len(terms) * share))
        keep = keep_whole_pairs([str(t) for t in terms[np.argsort(-weight, kind="stable")[:k]]])
        small = text_pipeline(trained.family, keep, clf.C, clf.class_weight, binary, trained.seed).fit(x, y)
        pred, proba = small.predict(x_test), small.predict_proba(x_test)
        score = compute(TaskType.TEXT_CLASSIFICATION, y_test, pred, proba, [str(c) for c in small.classes_])[
            key
        ]
        out.append(
            {
                "name": f"pruned to the {len(keep):,} heaviest terms",
                "params": count_params(small),
                "score": round(score, 4),
                "kept": False,
                "model": small,
            }
        )
    return out


def onnx_int8_accuracy(
    onnx_path: str | Path, rows: list[Any], y_true: Any, out_path: str | Path | None = None
) -> dict[str, Any]:
    """Quantize an exported model with onnxruntime (skills.export.quantize) and compare the held-out
    accuracy of the int8 copy with the float model's: the quantization's cost in accuracy."""
    import numpy as np

    result = quantize_int8(onnx_path, rows, out_path=out_path, min_agreement=0.0)
    truth = np.asarray([str(v) for v in y_true])
    ref = OnnxPredictor(onnx_path)
    acc = {"float": float(np.mean(ref.run(ref.feeds(rows))[0] == truth))}
    if result.get("path"):
        q = OnnxPredictor(result["path"])
        acc["int8"] = float(np.mean(q.run(q.feeds(rows))[0] == truth))
        acc["difference"] = round(acc["int8"] - acc["float"], 4)
    result["accuracy"] = acc
    return result
