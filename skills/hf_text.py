"""Transformers text classifiers trained with the `transformers` Trainer (early stopping, progress
lines): loaded with from_pretrained from a local directory (`--model-dir`, $TRAINER_AGENT_MODELS,
the HF cache), or, offline with neither, a small BERT built from scratch with a word-level
tokenizer trained on the data. Used as teachers (they are not exported: their tokenizers are not
ONNX ops).

    net = fit_hf_text(texts, labels, out_dir="runs/<id>/models/teacher", model_dir=None, epochs=3)
    net.source                       # "pretrained-local" | "pretrained-cache" | "from-scratch"
    proba = net.predict_proba(texts)
    net.save("some/dir")            # save_pretrained: loadable again with model_dir="some/dir"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRATCH_CONFIG = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}
MAX_LENGTH = 128


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
    """From `model_dir` (or the catalog's places, see `skills.model_catalog.resolve_pretrained`) when
    a saved model is there; else a small BERT from scratch."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
    )

    from skills.model_catalog import candidate, resolve_pretrained

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
