"""A small PyTorch text classifier with its own word vocabulary, trained with early stopping.

Tokens are the same as the TF-IDF models' (lower-cased ASCII words of 2+ characters, see
`skills.model.text_net.TOKEN_PATTERN`), so the ONNX graph can tokenize with the standard StringNormalizer
and Tokenizer ops (`skills.export.text_net_onnx`). Ids: 0 padding, 1 unknown word, 2.. the vocabulary.

    model, history = fit_text_net(texts, labels, arch="bag", vocab_size=20000, epochs=10,
                                  progress=lambda e: print(e))
    proba = predict_proba(model, texts)
    save_text_net(model, "runs/<id>/models/model.pt")     # + model.json written by skills.model.train
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.early_stopping import train_epochs
from trainer_agent.skills.model.net_io import load_net, save_net
from trainer_agent.skills.model.text_net import (
    PAD,
    TextNetConfig,
    batch_ids,
    build_vocab,
    encode,
    label_indices,
    predict_ids,
    predict_proba,
    warm_compatible,
)

ARCHS = ("bag", "cnn")
EPOCHS = 15  # fit_text_net: epochs at most (early stopping on validation)


def make_net(config: TextNetConfig) -> Any:
    """The module: ids [batch, length] (int64, 0 = padding) -> class probabilities [batch, k]
    (arch "bag" or "cnn"; the other text nets are built by their own family modules)."""
    import torch
    from torch import nn

    n_vocab, n_out = len(config.vocab) + 2, max(2, len(config.labels))

    class TextNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(n_vocab, config.embed, padding_idx=PAD)
            if config.arch == "cnn":
                self.conv = nn.Conv1d(config.embed, config.hidden, kernel_size=3, padding=1)
                self.out = nn.Linear(config.hidden, n_out)
            else:
                self.hidden = nn.Linear(config.embed, config.hidden)
                self.out = nn.Linear(config.hidden, n_out)
            self.dropout = nn.Dropout(0.3)

        def logits(self, ids: Any) -> Any:
            # A leading padding column: an empty text still has length 1, so pooling is defined.
            ids = nn.functional.pad(ids, (1, 0), value=PAD)
            mask = (ids != PAD).unsqueeze(-1).to(torch.float32)
            emb = self.embed(ids)
            if config.arch == "cnn":
                h = torch.relu(self.conv(self.dropout(emb).transpose(1, 2))).transpose(1, 2)
                pooled = (h * mask).amax(dim=1)  # ReLU >= 0, so masked zeros never win the max
            else:
                pooled = (emb * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                pooled = torch.relu(self.hidden(self.dropout(pooled)))
            return self.out(self.dropout(pooled))

        def forward(self, ids: Any) -> Any:
            return torch.softmax(self.logits(ids), dim=-1)

    return TextNet()


def vocab_for_limit(param_limit: int | None, arch: str, embed: int, hidden: int, classes: int) -> int | None:
    """The largest vocabulary whose net stays within `param_limit` (None: no limit)."""
    if param_limit is None:
        return None
    k = max(2, classes)
    head = (3 * embed * hidden if arch == "cnn" else embed * hidden) + hidden + hidden * k + k
    return max(0, (param_limit - head) // embed - 2)


def fit_text_net(
    texts: Sequence[str],
    labels: Sequence[str],
    arch: str = "bag",
    vocab_size: int = 20_000,
    embed: int = 64,
    hidden: int = 64,
    epochs: int | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    patience: int = 2,
    val_frac: float = 0.1,
    seed: int = 0,
    soft_targets: Any = None,
    extra_texts: Sequence[str] = (),
    progress: Callable[[dict[str, float]], None] | None = None,
    time_limit_s: float | None = None,
    init: tuple[Any, TextNetConfig] | None = None,
    score_labels: Sequence[str] | None = None,
    param_limit: int | None = None,
) -> tuple[Any, TextNetConfig]:
    """Train a net; stop early when the held-back validation accuracy has not improved for
    `patience` epochs, and keep the best epoch's weights.

    `soft_targets` ([n, k] probabilities from a teacher, classes in sorted label order) turns the
    loss into cross-entropy against them (distillation); `extra_texts` only widen the vocabulary.
    `init`: a trained (net, config) of the same arch, sizes and labels to start from (a warm
    start): its vocabulary and weights are kept and training goes on from them.
    `score_labels`: the labels the validation accuracy is computed on (default `labels`; the
    person's labels when `labels` carry approved corrections).
    `param_limit`: the vocabulary is cut so the net stays within it; `epochs` None: `EPOCHS`.
    """
    import numpy as np
    import torch

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    epochs = epochs or EPOCHS
    classes = sorted({str(y) for y in labels})
    if (cap := vocab_for_limit(param_limit, arch, embed, hidden, len(classes))) is not None:
        vocab_size = min(vocab_size, cap)
    y = np.asarray([classes.index(str(v)) for v in labels])
    y_score = y if score_labels is None else label_indices(score_labels, classes)
    pattern = TextNetConfig(arch="", vocab=[], labels=[]).token_pattern
    if init is not None and not warm_compatible(init[1], arch, embed, hidden, classes):
        init = None
    vocab = (
        list(init[1].vocab)
        if init is not None
        else build_vocab([*texts, *extra_texts], max(0, vocab_size), pattern)
    )
    config = TextNetConfig(arch=arch, vocab=vocab, labels=classes, embed=embed, hidden=hidden)
    ids = encode(texts, config)
    order = rng.permutation(len(ids))
    n_val = max(1, int(len(ids) * val_frac)) if len(ids) >= 20 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]
    targets = torch.tensor(
        np.asarray(soft_targets, dtype=np.float32) if soft_targets is not None else np.eye(len(classes))[y],
        dtype=torch.float32,
    )
    if targets.shape[1] < 2:  # a single class is refused earlier; keep shapes valid anyway
        targets = torch.nn.functional.pad(targets, (0, 2 - targets.shape[1]))

    model = make_net(config)
    if init is not None:
        model.load_state_dict(init[0].state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)

    def one_epoch() -> float:
        perm = rng.permutation(train_idx)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            rows = perm[i : i + batch_size]
            logp = torch.log_softmax(model.logits(batch_ids([ids[r] for r in rows])), dim=-1)
            loss = -(targets[rows] * logp).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(rows)
        return total / max(1, len(perm))

    def val_accuracy() -> float:
        pred = predict_ids(model, [ids[r] for r in val_idx]).argmax(axis=1)
        return float(np.mean(pred == y_score[val_idx]))

    train_epochs(
        model,
        epochs,
        one_epoch,
        val_accuracy if n_val else None,
        patience,
        config.history,
        progress,
        time_limit_s,
    )
    return model, config


def predict(model: Any, config: TextNetConfig, texts: Sequence[str]) -> Any:
    import numpy as np

    proba = predict_proba(model, config, texts)
    return np.asarray(config.labels, dtype=object)[proba.argmax(axis=1)]


def save_text_net(model: Any, config: TextNetConfig, path: str | Path) -> int:
    return save_net(model, config, path)


def load_text_net(path: str | Path) -> tuple[Any, TextNetConfig]:
    return load_net(path, TextNetConfig, make_net)
