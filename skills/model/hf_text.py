"""Transformers text classifiers trained with the `transformers` Trainer (early stopping, progress
lines): loaded with from_pretrained from a local directory (`--model-dir`, $TRAINER_AGENT_MODELS,
the HF cache), or, offline with neither, a small BERT built from scratch with a word-level
tokenizer trained on the data.

Two uses: `fit_hf_text` (the model with its own tokenizer, not exportable: a teacher), and
`fit_transformer_net`, a candidate of the text selection (catalog family `bert-tiny`) that takes the
word ids of `skills.model.torch_text`, maps them to subword pieces inside the net, and so exports to
ONNX with the tokenizer in the graph (`skills.export.export_torch`).

    net = fit_hf_text(texts, labels, out_dir="runs/<id>/models/teacher", model_dir=None, epochs=3)
    net.source                       # "pretrained-local" | "pretrained-cache" | "from-scratch"
    proba = net.predict_proba(texts)
    net.save("some/dir")            # save_pretrained: loadable again with model_dir="some/dir"

    net, config = fit_transformer_net(texts, labels, model_path=None, param_limit=999_999)
    config.source                    # "pretrained from <dir>" | "from scratch (...)"
    save_text_net(net, config, "runs/<id>/models/model.pt")   # skills.model.torch_text, as its nets
"""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer_agent.skills.model.model_catalog import candidate
from trainer_agent.skills.model.model_library import SCRATCH_SOURCE as SCRATCH_SOURCE  # its sources say so
from trainer_agent.skills.model.model_library import resolve_pretrained
from trainer_agent.skills.model.text_net import TextNetConfig, batch_ids, build_vocab, encode, label_indices
from trainer_agent.skills.model.word_pieces import config_dict as _config_dict
from trainer_agent.skills.model.word_pieces import pack_pieces
from trainer_agent.skills.model.word_pieces import pretrained_pieces as _pretrained_pieces

SCRATCH_CONFIG = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}
MAX_LENGTH = 128
NET_EPOCHS = 6  # fit_transformer_net: epochs at most (early stopping on validation)


@dataclass
class HFText:
    model: Any
    tokenizer: Any
    labels: list[str]
    source: str
    path: str | None = None
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def params(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        import numpy as np
        import torch

        self.model.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(
                    list(texts[i : i + batch_size]),
                    truncation=True,
                    max_length=MAX_LENGTH,
                    padding=True,
                    return_tensors="pt",
                )
                out.append(torch.softmax(self.model(**enc).logits, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)))

    def save(self, path: str | Path) -> None:
        self.model.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))


def scratch_tokenizer(texts: Sequence[str], vocab_size: int = 8000) -> Any:
    """A word-level tokenizer (lower case, words and punctuation) trained on `texts`, BERT specials."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        list(texts), trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=specials)
    )
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def load_or_build(
    labels: list[str], texts: Sequence[str], model_dir: str | Path | None = None, config: dict | None = None
) -> HFText:
    """From `model_dir` (or the catalog's places, see `skills.model.model_catalog.resolve_pretrained`) when
    a saved model is there; else a small BERT from scratch."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
    )

    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    source, path = resolve_pretrained(candidate("text_classification", "bert-tiny"), model_dir)
    if path is not None:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True
        )
        return HFText(model, tokenizer, labels, source, path)
    tokenizer = scratch_tokenizer(texts)
    cfg = BertConfig(  # type: ignore[call-arg]
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_LENGTH + 2,
        num_labels=len(labels),
        id2label=id2label,
        label2id=label2id,
        pad_token_id=tokenizer.pad_token_id,
        **(config or SCRATCH_CONFIG),
    )
    return HFText(BertForSequenceClassification(cfg), tokenizer, labels, "from-scratch")


class _Encoded:
    def __init__(self, enc: dict[str, Any], y: Sequence[int]) -> None:
        self.enc, self.y = enc, list(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {**{k: v[i] for k, v in self.enc.items()}, "labels": self.y[i]}


def fit_hf_text(
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: str | Path,
    model_dir: str | Path | None = None,
    config: dict | None = None,
    epochs: int = 3,
    batch_size: int = 32,
    lr: float = 5e-4,
    patience: int = 1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> HFText:
    """Fine-tune (or train from scratch) on `texts`, keeping the best epoch on a 10% validation split."""
    import numpy as np
    from transformers import (
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    set_seed(seed)
    classes = sorted({str(v) for v in labels})
    net = load_or_build(classes, texts, model_dir, config)
    y = np.asarray([classes.index(str(v)) for v in labels])
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = max(1, len(y) // 10)
    val, tr = order[:n_val], order[n_val:]

    def encode(idx: Any) -> _Encoded:
        enc = net.tokenizer([texts[i] for i in idx], truncation=True, max_length=MAX_LENGTH)
        return _Encoded(dict(enc), y[idx])

    class Progress(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "eval_accuracy" in logs:
                entry = {
                    "epoch": round(float(logs.get("epoch", 0)), 2),
                    "val_accuracy": round(logs["eval_accuracy"], 4),
                }
                net.history.append(entry)
                if progress is not None:
                    progress(
                        f"{net.source} transformer epoch {entry['epoch']}: "
                        f"val acc {entry['val_accuracy']:.4f}"
                    )

    def accuracy(pred: Any) -> dict[str, float]:
        return {"accuracy": float(np.mean(pred.predictions.argmax(-1) == pred.label_ids))}

    args = TrainingArguments(
        output_dir=str(out_dir),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        learning_rate=lr,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        save_total_limit=1,
        report_to=[],
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=net.model,
        args=args,
        train_dataset=encode(tr),
        eval_dataset=encode(val),
        data_collator=DataCollatorWithPadding(net.tokenizer),
        compute_metrics=accuracy,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=patience), Progress()],
    )
    trainer.train()
    net.model = trainer.model.eval()  # type: ignore[union-attr]
    return net


# ---------------------------------------------------------------- exportable candidates
#
# A transformer as a candidate of the text selection: it takes the same word ids as the torch text
# nets (the ONNX graph tokenizes into them, `skills.export.export_torch`), so it exports and serves like
# them. Inside, each word id becomes its subword pieces through a table, the pieces are packed to
# the left (as a tokenizer would give them), [CLS] goes first, and the transformers model runs.

CANDIDATE_CONFIG = {**SCRATCH_CONFIG, "attention_probs_dropout_prob": 0.0}  # that dropout is slow on CPU
CANDIDATE_MAX_LEN = 128  # words fed to the model (the graph's Slice)


def transformer_net(config: Any) -> Any:
    """The module for a `skills.model.torch_text.TextNetConfig` with arch "transformer": word ids
    [batch, length] (0 = padding) -> class probabilities [batch, k]; `logits(ids)` for training."""

    import torch
    from torch import nn
    from transformers import AutoConfig, AutoModelForSequenceClassification

    hf = dict(config.hf_config)
    hf_config = AutoConfig.for_model(hf.pop("model_type"), **hf)
    # eager attention: plain ops, which the TorchScript ONNX exporter traces
    model = AutoModelForSequenceClassification.from_config(hf_config, attn_implementation="eager")
    pad = int(hf_config.pad_token_id or 0)
    max_pieces = int(getattr(hf_config, "max_position_embeddings", 512) or 512) - (config.cls_id >= 0)
    accepts = set(inspect.signature(model.forward).parameters)

    class TransformerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.register_buffer("pieces", torch.tensor(config.pieces, dtype=torch.long), persistent=False)

        def logits(self, ids: Any) -> Any:
            pieces = pack_pieces(ids, self.pieces, pad, max_pieces, config.cls_id)
            mask = (pieces != pad).long()
            if config.cls_id < 0:
                mask[:, 0] = 1  # an empty text attends to something
            kwargs = {"input_ids": pieces, "attention_mask": mask}
            if "position_ids" in accepts:
                kwargs["position_ids"] = torch.arange(pieces.shape[1], device=ids.device).unsqueeze(0)
            if "token_type_ids" in accepts:
                kwargs["token_type_ids"] = torch.zeros_like(pieces)
            return self.model(**kwargs).logits

        def forward(self, ids: Any) -> Any:
            return torch.softmax(self.logits(ids), dim=-1)

    return TransformerNet()


def _scratch_model(n_words: int, classes: int, max_len: int, config: dict | None) -> Any:
    from transformers import BertConfig

    return BertConfig(  # type: ignore[call-arg]
        vocab_size=n_words + 3,  # 0 padding, 1 unknown, 2.. the words, then [CLS]
        max_position_embeddings=max_len + 1,
        num_labels=classes,
        pad_token_id=0,
        **(config or CANDIDATE_CONFIG),
    )


def scratch_vocab_for_limit(
    param_limit: int | None, classes: int, max_len: int, config: dict | None
) -> int | None:
    """The most words a from-scratch model may have within `param_limit` (None: no limit)."""
    if param_limit is None:
        return None
    from transformers import BertForSequenceClassification

    cfg = _scratch_model(0, max(2, classes), max_len, config)
    fixed = sum(p.numel() for p in BertForSequenceClassification(cfg).parameters())  # 3 embedding rows
    return max(0, int((param_limit - fixed) // cfg.hidden_size))


def build_transformer(
    texts: Sequence[str],
    classes: list[str],
    model_path: str | None,
    vocab_size: int | None = None,
    param_limit: int | None = None,
    config: dict | None = None,
    max_len: int = CANDIDATE_MAX_LEN,
) -> tuple[Any, Any]:
    """(net, TextNetConfig): from the saved model at `model_path` (its tokenizer gives each word's
    pieces), or a BERT from scratch whose vocabulary is the word vocabulary."""

    pattern = TextNetConfig(arch="", vocab=[], labels=[]).token_pattern
    n = max(2, len(classes))
    if model_path is not None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=n,
            ignore_mismatched_sizes=True,  # a new head for our labels
            attn_implementation="eager",
        )
        # every training word is known to a pretrained tokenizer: keep the rare ones too
        words = build_vocab(texts, vocab_size or 30_000, pattern, min_count=1)
        words, table, cls, _ = _pretrained_pieces(tokenizer, model, words, param_limit)
        net_config = TextNetConfig(
            arch="transformer",
            vocab=words,
            labels=classes,
            embed=int(model.config.hidden_size),
            hidden=int(model.config.hidden_size),
            max_len=max_len,
            hf_config=_config_dict(model.config),
            pieces=table,
            cls_id=cls,
            source=f"pretrained from {model_path}",
        )
        net = transformer_net(net_config)
        missing, unexpected = net.model.load_state_dict(model.state_dict(), strict=False)
        assert not unexpected and not [k for k in missing if "position_ids" not in k], (missing, unexpected)
        return net, net_config
    cap = scratch_vocab_for_limit(param_limit, n, max_len, config)
    size = vocab_size or 10_000
    words = build_vocab(texts, size if cap is None else min(size, cap), pattern)
    hf_config = _scratch_model(len(words), n, max_len, config)
    net_config = TextNetConfig(
        arch="transformer",
        vocab=words,
        labels=classes,
        embed=int(hf_config.hidden_size),
        hidden=int(hf_config.hidden_size),
        max_len=max_len,
        hf_config=_config_dict(hf_config),
        pieces=[[i] for i in range(len(words) + 2)],
        cls_id=len(words) + 2,
        source=SCRATCH_SOURCE,
    )
    return transformer_net(net_config), net_config


def fit_transformer_net(
    texts: Sequence[str],
    labels: Sequence[str],
    model_path: str | None = None,
    vocab_size: int | None = None,
    param_limit: int | None = None,
    config: dict | None = None,
    epochs: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    patience: int = 3,
    val_frac: float = 0.1,
    seed: int = 0,
    time_limit_s: float | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
    score_labels: Sequence[str] | None = None,
) -> tuple[Any, Any]:
    """Train a transformer candidate with the transformers Trainer on exactly the word ids the ONNX
    graph produces; stop early when the validation accuracy has not improved for `patience`
    epochs or `time_limit_s` has passed, and keep the best epoch's weights. Validation is scored
    on `score_labels` (default `labels`; the person's labels when `labels` carry corrections).

    `config` overrides the candidates' from-scratch config (`CANDIDATE_CONFIG`); `epochs` None:
    `NET_EPOCHS`. Returns (net, TextNetConfig), as `skills.model.torch_text.fit_text_net` does."""

    import numpy as np
    import torch
    from torch import nn
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, set_seed

    set_seed(seed)
    epochs = epochs or NET_EPOCHS
    config = {**CANDIDATE_CONFIG, **(config or {})}
    classes = sorted({str(v) for v in labels})
    net, net_config = build_transformer(texts, classes, model_path, vocab_size, param_limit, config)
    y = np.asarray([classes.index(str(v)) for v in labels])
    ids = encode(texts, net_config)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = max(1, int(len(ids) * val_frac)) if len(ids) >= 20 else 0
    val, tr = order[:n_val], order[n_val:]
    rows = [{"input_ids": ids[i], "labels": int(y[i])} for i in range(len(ids))]
    if score_labels is not None:  # validation rows keep the person's labels
        given = label_indices(score_labels, classes)
        for i in val:
            rows[i] = {"input_ids": ids[i], "labels": int(given[i]) if given[i] >= 0 else -100}

    class ForTrainer(nn.Module):
        """The net as the Trainer wants it: named inputs in, {"loss", "logits"} out."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: Any, labels: Any = None) -> dict[str, Any]:
            logits = self.net.logits(input_ids)
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = nn.functional.cross_entropy(logits, labels)
            return out

    def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "input_ids": batch_ids([b["input_ids"] for b in batch]),
            "labels": torch.tensor([b["labels"] for b in batch], dtype=torch.long),
        }

    def accuracy(pred: Any) -> dict[str, float]:
        return {"accuracy": float(np.mean(pred.predictions.argmax(-1) == pred.label_ids))}

    start = time.perf_counter()
    best: dict[str, Any] = {"score": -1.0, "state": None, "stale": 0, "loss": float("nan"), "val_loss": 1e9}

    class Watch(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                best["loss"] = float(logs["loss"])

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
                control.should_training_stop = True
                control.should_log = control.should_evaluate = True  # score the partial epoch

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kw: Any) -> None:
            score = float((metrics or {}).get("eval_accuracy", 0.0))
            loss = float((metrics or {}).get("eval_loss", 0.0))
            entry = {
                "epoch": round(float(state.epoch or 0), 2),
                "train_loss": round(best["loss"], 4),
                "val_accuracy": round(score, 4),
            }
            net_config.history.append(entry)
            if progress is not None:
                progress(entry)
            # a transformer from scratch sits at the majority class for a while: its validation
            # loss still falling counts as progress too
            progressed = score > best["score"] or loss < best["val_loss"]
            if score > best["score"]:
                state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                best.update(score=score, state=state)
            best["val_loss"] = min(loss, best["val_loss"])
            if progressed:
                best["stale"] = 0
            else:
                best["stale"] += 1
                if best["stale"] >= patience:
                    control.should_training_stop = True

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    grouping: dict[str, Any] = (  # transformers 5 renamed the option
        {"train_sampling_strategy": "group_by_length"}
        if "train_sampling_strategy" in names
        else {"group_by_length": True}
    )
    with tempfile.TemporaryDirectory(prefix="trainer-agent-hf-") as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            per_device_eval_batch_size=128,
            learning_rate=lr or (1e-4 if model_path else 1e-3),
            warmup_steps=max(1, len(tr) // batch_size // 2),  # half an epoch
            weight_decay=0.01,
            eval_strategy="epoch" if n_val else "no",
            save_strategy="no",  # the best epoch is kept in memory (Watch)
            logging_strategy="epoch",
            report_to=[],
            use_cpu=True,
            seed=seed,
            disable_tqdm=True,
            remove_unused_columns=False,
            **grouping,  # batches of similar lengths: less padding
        )
        trainer = Trainer(
            model=ForTrainer(),
            args=args,
            train_dataset=[rows[i] for i in tr],
            eval_dataset=[rows[i] for i in val] if n_val else None,
            data_collator=collate,
            compute_metrics=accuracy,
            callbacks=[Watch()],
        )
        trainer.remove_callback(PrinterCallback)  # progress goes through `progress`
        trainer.train()
    if best["state"] is not None:
        net.load_state_dict(best["state"])
    net.eval()
    return net, net_config
