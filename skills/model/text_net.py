"""What every text net shares (the from-scratch nets of `skills.model.torch_text`, the transformers of
`skills.model.hf_text`, the frozen encoder of `skills.model.embed_text`): its saved configuration, the word
vocabulary and how texts become padded id tensors."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PAD, UNK = 0, 1


PAD_TOKEN = "#"  # what the ONNX Tokenizer pads with (longer when "#" is a word: skills.export.export_torch)


MAX_LEN = 256

# ASCII words of two characters or more: the same expression runs in scikit-learn and in the
# ONNX Tokenizer (re2), so both see the same tokens. sklearn's default `(?u)\b\w\w+\b` is
# converted by skl2onnx to `[a-zA-Z0-9_]+`, which keeps one-letter tokens and breaks bigrams.
TOKEN_PATTERN = r"[a-zA-Z0-9_]{2,}"


@dataclass
class TextNetConfig:
    """Saved next to the weights; loading rebuilds the net from it."""

    arch: str
    vocab: list[str]
    labels: list[str]
    embed: int = 64
    hidden: int = 64
    max_len: int = MAX_LEN
    token_pattern: str = TOKEN_PATTERN
    history: list[dict[str, float]] = field(default_factory=list)
    # arch "transformer" (`skills.model.hf_text.transformer_net`): the transformers config (to_dict), the
    # subword pieces of each word id (rows padded with the model's pad id), the [CLS] id (-1: none)
    # and where the weights came from ("pretrained from <dir>" or "from scratch (...)").
    hf_config: dict[str, Any] = field(default_factory=dict)
    pieces: list[list[int]] = field(default_factory=list)
    cls_id: int = -1
    source: str = ""
    sep_id: int = -1  # arch "embed-linear" (`skills.model.embed_text`): [SEP] after the last piece


def tokenize(text: str, pattern: str) -> list[str]:
    return re.findall(pattern, text.lower())


def build_vocab(texts: Sequence[str], size: int, pattern: str, min_count: int = 2) -> list[str]:
    """The `size` most frequent tokens seen at least `min_count` times (ties by token, so stable)."""
    counts = Counter(t for text in texts for t in tokenize(text, pattern))
    ranked = sorted((c, t) for t, c in counts.items() if c >= min_count)
    ranked.sort(key=lambda ct: (-ct[0], ct[1]))
    return [t for _, t in ranked[:size]]


def encode(texts: Sequence[str], config: TextNetConfig) -> list[list[int]]:
    index = {t: i + 2 for i, t in enumerate(config.vocab)}
    return [[index.get(t, UNK) for t in tokenize(x, config.token_pattern)][: config.max_len] for x in texts]


def batch_ids(ids: Sequence[list[int]]) -> Any:
    import torch

    width = max(1, max((len(r) for r in ids), default=1))
    out = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        if row:
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def label_indices(labels: Sequence[str], classes: list[str]) -> Any:
    """Class indices of `labels` (-1 for a label not among `classes`: never predicted, so wrong)."""
    import numpy as np

    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index.get(str(v), -1) for v in labels])


def predict_ids(model: Any, ids: Sequence[list[int]], batch_size: int = 256) -> Any:
    import numpy as np
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(ids), batch_size):
            out.append(model(batch_ids(ids[i : i + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


def predict_proba(model: Any, config: TextNetConfig, texts: Sequence[str]) -> Any:
    """Class probabilities [n, len(labels)] of any text net, in the order of `config.labels`."""
    return predict_ids(model, encode(texts, config))


def warm_compatible(config: TextNetConfig, arch: str, embed: int, hidden: int, labels: list[str]) -> bool:
    """Whether a saved net can seed a new one: same kind of net, sizes and classes."""
    return (config.arch, config.embed, config.hidden, list(config.labels)) == (arch, embed, hidden, labels)
