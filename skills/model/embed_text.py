"""A pretrained sentence encoder (all-MiniLM-L6-v2 from the model library) with a linear head: the
catalog family `minilm-embed-linear`.

The encoder is frozen; its sentence embedding (mean of the token vectors over the attention mask,
then L2-normalised, as the model's sentence-transformers modules say) feeds a logistic regression
whose C is chosen by cross-validation on the training rows; the head's weights then become a
torch Linear layer, so the whole model is one torch net (`skills.model.torch_text` arch "embed-linear")
that exports like the other text nets, tokenizer in the graph (`skills.export.export_torch`): words
(lower-cased runs of letters/digits, and each punctuation mark) -> word ids -> WordPiece pieces
through a table inside the net ([CLS] ... [SEP], as the model's tokenizer gives them). The word
vocabulary is the training words plus every whole word of the model's WordPiece vocabulary; a
word outside both becomes [UNK]. Under a time budget the encoder can be fine-tuned too
(`fine_tune`).

    net, config, fit = fit_embed_linear(texts, labels, model_path)
    fit.score, fit.c                         # cross-validated score of the chosen C
    proba = skills.model.torch_text.predict_proba(net, config, texts)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.cross_val import cross_val_outputs
from trainer_agent.skills.model.early_stopping import TIME_CUT, time_cut
from trainer_agent.skills.model.text_net import (
    TextNetConfig,
    batch_ids,
    build_vocab,
    encode,
    label_indices,
    predict_ids,
)
from trainer_agent.skills.model.word_pieces import config_dict, pack_pieces, pretrained_pieces

ARCH = "embed-linear"
# words and single punctuation marks (the WordPiece pre-tokenizer's split, on lower-cased text)
TOKEN_PATTERN = r"[a-z0-9]+|[^\sa-z0-9]"
C_GRID = (1.0, 4.0, 16.0, 64.0)  # unit-length embeddings need larger C than TF-IDF rows
FOLDS = 3
MAX_LEN = 256  # words fed to the encoder (the graph's Slice)
BATCH = 32
# a fine-tuning epoch against one pass of embeddings over the same rows: forward, backward and
# the AdamW step took 3.6x a forward (96 demo reviews at 128 pieces, 2 shared cores) over 90% of
# them, plus scoring the other 10%
FINE_TUNE_COST = 3.4


@dataclass
class HeadFit:
    score: float  # cross-validated score of the chosen C (training score when CV is impossible)
    c: float
    scores: dict[float, float] = field(default_factory=dict)
    embed_s: float = 0.0  # seconds spent computing the training embeddings


def sentence_settings(model_path: str | Path) -> dict[str, Any]:
    """Pooling, normalisation and maximum length from the sentence-transformers files beside the
    model (defaults: mean pooling, no normalisation, 256 pieces)."""
    root = Path(model_path)

    def read(name: str) -> Any:
        try:
            return json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    pooling = read("1_Pooling/config.json") or {}
    modules = read("modules.json") or []
    sbert = read("sentence_bert_config.json") or {}
    return {
        "pooling": "cls" if pooling.get("pooling_mode_cls_token") else "mean",
        "normalize": any(str(m.get("type", "")).endswith("Normalize") for m in modules),
        "max_seq_length": int(sbert.get("max_seq_length", 256)),
    }


def embed_net(config: Any) -> Any:
    """The module for a `TextNetConfig` with arch "embed-linear": word ids [batch, length] ->
    class probabilities [batch, k]; `embed(ids)` gives the sentence embeddings."""
    import torch
    from torch import nn
    from transformers import AutoConfig, AutoModel

    hf = dict(config.hf_config)
    settings = hf.pop("sentence", {})
    hf_config = AutoConfig.for_model(hf.pop("model_type"), **hf)
    encoder = AutoModel.from_config(hf_config, attn_implementation="eager", add_pooling_layer=False)
    pad = int(hf_config.pad_token_id or 0)
    limit = min(int(settings.get("max_seq_length", 256)), int(hf_config.max_position_embeddings))
    max_pieces = limit - (config.cls_id >= 0) - (config.sep_id >= 0)
    k = max(2, len(config.labels))

    class EmbedLinear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = nn.Linear(int(hf_config.hidden_size), k)
            self.register_buffer("pieces", torch.tensor(config.pieces, dtype=torch.long), persistent=False)

        def embed(self, ids: Any) -> Any:
            pieces = pack_pieces(ids, self.pieces, pad, max_pieces, config.cls_id, config.sep_id)
            mask = (pieces != pad).long()
            out = self.encoder(
                input_ids=pieces,
                attention_mask=mask,
                token_type_ids=torch.zeros_like(pieces),
                position_ids=torch.arange(pieces.shape[1], device=ids.device).unsqueeze(0),
            ).last_hidden_state
            if settings.get("pooling") == "cls":
                pooled = out[:, 0]
            else:
                m = mask.unsqueeze(-1).to(out.dtype)
                pooled = (out * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
            if settings.get("normalize"):
                pooled = nn.functional.normalize(pooled, p=2.0, dim=1)
            return pooled

        def logits(self, ids: Any) -> Any:
            return self.head(self.embed(ids))

        def forward(self, ids: Any) -> Any:
            return torch.softmax(self.logits(ids), dim=-1)

    return EmbedLinear()


def _vocabulary(texts: Sequence[str], tokenizer: Any, pattern: str) -> list[str]:
    """The training words (most frequent first), then the model's whole words (not ## pieces)."""

    words = build_vocab(texts, 1_000_000, pattern, min_count=1)
    seen = set(words)
    rx = re.compile(pattern)
    for piece in tokenizer.get_vocab():
        if piece not in seen and not piece.startswith("##") and rx.fullmatch(piece):
            words.append(piece)
            seen.add(piece)
    return words


def build_embed_net(
    texts: Sequence[str], classes: list[str], model_path: str | Path, max_pieces: int | None = None
) -> tuple[Any, Any]:
    """(net, TextNetConfig) from the saved sentence encoder at `model_path`; the head is untrained.
    `max_pieces` caps the pieces a text gets (with [CLS] and [SEP]) below the model's own maximum."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report lists the unused pooler: expected, not news
    try:
        encoder = AutoModel.from_pretrained(
            str(model_path), attn_implementation="eager", add_pooling_layer=False
        )
    finally:
        hf_logging.set_verbosity(level)
    words = _vocabulary(texts, tokenizer, TOKEN_PATTERN)
    sep = tokenizer.sep_token_id
    extra = [int(sep)] if sep is not None else []
    words, table, cls, new_id = pretrained_pieces(tokenizer, encoder, words, None, extra)
    new_sep = new_id[int(sep)] if sep is not None else -1
    settings = sentence_settings(model_path)
    if max_pieces:
        settings["max_seq_length"] = min(settings["max_seq_length"], int(max_pieces))
    hf = config_dict(encoder.config) | {"sentence": settings}
    config = TextNetConfig(
        arch=ARCH,
        vocab=words,
        labels=classes,
        embed=int(encoder.config.hidden_size),
        hidden=int(encoder.config.hidden_size),
        max_len=MAX_LEN,
        token_pattern=TOKEN_PATTERN,
        hf_config=hf,
        pieces=table,
        cls_id=cls,
        sep_id=new_sep,
        source=f"pretrained from {model_path}",
    )
    net = embed_net(config)
    missing, unexpected = net.encoder.load_state_dict(encoder.state_dict(), strict=False)
    assert not unexpected and not [m for m in missing if "position_ids" not in m], (missing, unexpected)
    return net, config


def embeddings(net: Any, config: Any, texts: Sequence[str], batch_size: int = BATCH) -> Any:
    """Sentence embeddings [n, hidden] of `texts` through the net's own word ids (rows batched by
    length, so little padding)."""
    import numpy as np
    import torch

    ids = encode(texts, config)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), int(config.hidden)), dtype=np.float32)
    net.eval()
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            out[rows] = net.embed(batch_ids([ids[r] for r in rows])).numpy()
    return out


def _head(c: float, seed: int, class_weight: str | None) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, class_weight=class_weight, random_state=seed)


def choose_c(
    emb: Any, y: Any, given: Any, scoring: str, seed: int, class_weight: str | None = None
) -> tuple[float, float, dict[float, float]]:
    """(C, its score, every C's score): FOLDS-fold cross-validation of the logistic head on the
    embeddings, fitted on `y` and scored on `given`; near-ties go to the smaller C."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from trainer_agent.skills.model.select_model import TIE_TOLERANCE

    classes = sorted({str(v) for v in y})
    counts = np.unique(np.asarray(y, dtype=object), return_counts=True)[1]
    if len(y) < 2 * FOLDS or int(counts.min()) < FOLDS:  # too few rows to cross-validate
        clf = _head(1.0, seed, class_weight).fit(emb, y)
        return 1.0, float(np.mean(clf.predict(emb) == np.asarray(given))), {}
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    scores = {
        c: float(
            np.mean(cross_val_outputs(_head(c, seed, class_weight), emb, y, cv, scoring, classes, given)[0])
        )
        for c in C_GRID
    }
    best = max(scores.values())
    c = min(v for v, s in scores.items() if s >= best - TIE_TOLERANCE)
    return c, scores[c], scores


def set_head(net: Any, clf: Any) -> None:
    """Copy a fitted LogisticRegression into the net's Linear head (binary: logits [0, w.x + b],
    whose softmax is the logistic's sigmoid)."""
    import torch

    coef = torch.tensor(clf.coef_, dtype=torch.float32)
    bias = torch.tensor(clf.intercept_, dtype=torch.float32)
    if coef.shape[0] == 1:
        coef = torch.cat([torch.zeros_like(coef), coef])
        bias = torch.cat([torch.zeros_like(bias), bias])
    with torch.no_grad():
        net.head.weight.copy_(coef)
        net.head.bias.copy_(bias)


def fit_embed_linear(
    texts: Sequence[str],
    labels: Sequence[str],
    model_path: str | Path,
    seed: int = 0,
    scoring: str = "accuracy",
    given: Sequence[str] | None = None,
    class_weight: str | None = None,
    max_pieces: int | None = None,
) -> tuple[Any, Any, HeadFit]:
    """The frozen encoder with a logistic head fitted on all rows, C chosen by cross-validation."""
    import numpy as np

    classes = sorted({str(v) for v in labels})
    net, config = build_embed_net(texts, classes, model_path, max_pieces)
    start = time.perf_counter()
    emb = embeddings(net, config, texts)
    embed_s = time.perf_counter() - start
    y = np.asarray([str(v) for v in labels], dtype=object)
    score_on = y if given is None else np.asarray([str(v) for v in given], dtype=object)
    c, score, scores = choose_c(emb, y, score_on, scoring, seed, class_weight)
    set_head(net, _head(c, seed, class_weight).fit(emb, y))
    net.eval()
    return net, config, HeadFit(score, c, scores, embed_s)


def fine_tune(
    net: Any,
    config: Any,
    texts: Sequence[str],
    labels: Sequence[str],
    time_limit_s: float,
    epochs: int = 3,
    lr: float = 2e-5,
    seed: int = 0,
    score_labels: Sequence[str] | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Fine-tune encoder and head together (AdamW, cross-entropy) on 90% of the rows, within
    `time_limit_s` (an epoch stops at the deadline), keeping the epoch with the best accuracy on
    the other 10%; epoch 0 is the frozen model, so fine-tuning never makes it worse there.
    Returns the history (`skills.model.early_stopping` form; the last entry says when the clock cut it)."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classes = list(config.labels)
    y = label_indices(labels, classes)
    y_score = y if score_labels is None else label_indices(score_labels, classes)
    ids = encode(texts, config)
    order = rng.permutation(len(ids))
    n_val = max(1, len(ids) // 10)
    val, tr = order[:n_val], order[n_val:]

    def val_accuracy() -> float:
        pred = predict_ids(net, [ids[i] for i in val], batch_size=BATCH).argmax(axis=1)
        return float(np.mean(pred == y_score[val]))

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    start = time.perf_counter()
    history = [{"epoch": 0, "train_loss": float("nan"), "val_accuracy": round(val_accuracy(), 4)}]
    best = history[0]["val_accuracy"]
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}  # the frozen model
    for epoch in range(1, epochs + 1):
        net.train()
        perm, total, seen, cut = rng.permutation(tr), 0.0, 0, False
        for i in range(0, len(perm), BATCH):
            if time.perf_counter() - start > time_limit_s:
                cut = True
                break
            rows = perm[i : i + BATCH]
            loss = torch.nn.functional.cross_entropy(
                net.logits(batch_ids([ids[r] for r in rows])), torch.tensor(y[rows], dtype=torch.long)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + float(loss) * len(rows), seen + len(rows)
        net.eval()
        entry = {
            "epoch": round(epoch - 1 + seen / max(1, len(tr)), 2),
            "train_loss": round(total / max(1, seen), 4),
            "val_accuracy": round(val_accuracy(), 4),
        }
        history.append(entry)
        if progress is not None:
            progress(entry)
        if entry["val_accuracy"] > best:
            best = entry["val_accuracy"]
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if cut or time.perf_counter() - start > time_limit_s:
            if epoch < epochs or cut:
                entry[TIME_CUT] = round(float(time_limit_s), 1)
            break
    net.load_state_dict(best_state)
    net.eval()
    return history


def fine_tune_within(
    net: Any,
    config: Any,
    texts: Sequence[str],
    labels: Sequence[str],
    fit: HeadFit,
    left_s: float,
    seed: int = 0,
    score_labels: Sequence[str] | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """`fine_tune` when an epoch is expected to fit in `left_s` (`FINE_TUNE_COST` times the frozen
    embedding time); what to record: "fine_tuned" (epochs, frozen and best validation accuracy, the
    epoch kept), "score" (the best fine-tuned validation accuracy when an epoch beat the frozen
    model) and "cut" (why it stopped or did not start)."""

    epoch_s = FINE_TUNE_COST * fit.embed_s
    if left_s < epoch_s:
        return {
            "cut": f"not fine-tuned (an epoch takes about {epoch_s:.0f} s; {max(0.0, left_s):.0f} s of its "
            "time share were left)"
        }
    say(f"fine-tuning the encoder for up to {left_s:.0f} s")
    history = fine_tune(
        net,
        config,
        texts,
        labels,
        time_limit_s=left_s,
        seed=seed,
        score_labels=score_labels,
        progress=progress,
    )
    config.history = history
    best = max(history, key=lambda h: h["val_accuracy"])
    out: dict[str, Any] = {
        "fine_tuned": {
            "epochs": history[-1]["epoch"],
            "val_accuracy_frozen": history[0]["val_accuracy"],
            "val_accuracy_best": best["val_accuracy"],
            "kept_epoch": best["epoch"],
        }
    }
    if best["epoch"]:  # a fine-tuned epoch beat the frozen model on the 10% split
        out["score"] = best["val_accuracy"]
    if cut := time_cut(history):
        out["cut"] = f"fine-tuning {cut}"
    return out


def teacher_factory(
    model_path: str | Path, texts: Sequence[str], max_pieces: int | None = None, c: float = 4.0
) -> tuple[Callable[[int], Any], int]:
    """(factory, parameters) of a distillation teacher for `skills.model.distill`: seed -> an unfitted
    scikit-learn pipeline (frozen encoder embeddings -> logistic regression) on raw texts. The
    encoder is built once, its vocabulary from `texts` (training rows and pool), and every text's
    embedding is computed once however many times the teacher is fitted (cross-validation)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    net, config = build_embed_net(texts, ["0", "1"], model_path, max_pieces)
    memo: dict[str, Any] = {}

    def embed(batch: Any) -> Any:
        import numpy as np

        todo = list(dict.fromkeys(str(t) for t in batch if str(t) not in memo))
        if todo:
            memo.update(zip(todo, embeddings(net, config, todo), strict=True))
        return np.stack([memo[str(t)] for t in batch])

    params = int(sum(p.numel() for p in net.encoder.parameters()))

    def make(seed: int) -> Any:
        return make_pipeline(FunctionTransformer(embed), _head(c, seed, None))

    return make, params
