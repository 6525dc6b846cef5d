"""Sentence embeddings from the local model library's sentence encoder, for judging text by meaning
(not for training: the `embed-text` family builds its own net with the tokenizer in the graph).

The encoder is the one the `minilm-embed-linear` family names in configs/models.yaml, found where
the Model agent finds it (`skills.model.model_library.resolve_pretrained`: the library directory or
an installed package such as the `pretrained` extra's). Pooling and normalisation follow the
sentence-transformers files beside the model.

    encoder = SentenceEncoder.local()            # None when no encoder is installed
    vectors = encoder.encode(["a request", "another"])   # [n, 384], unit length
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trainer_agent.skills.model.embed_text import sentence_settings
from trainer_agent.skills.model.model_catalog import candidate
from trainer_agent.skills.model.model_library import INSTALL_HINT, resolve_pretrained
from trainer_agent.skills.specs import TaskType

ENCODER_FAMILY = "minilm-embed-linear"
MISSING = f"no sentence encoder is installed; to add one: {INSTALL_HINT}"


def local_encoder_path() -> str | None:
    """The directory of the installed sentence encoder, or None."""
    return resolve_pretrained(candidate(TaskType.TEXT_CLASSIFICATION, ENCODER_FAMILY))[1]


@dataclass
class SentenceEncoder:
    path: str
    tokenizer: Any
    model: Any
    settings: dict[str, Any]

    @classmethod
    def local(cls) -> SentenceEncoder | None:
        path = local_encoder_path()
        return cls.load(path) if path else None

    @classmethod
    def load(cls, path: str) -> SentenceEncoder:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the unused pooler is listed on load: expected, not news
        hf_logging.disable_progress_bar()  # a judge's load is no news on the terminal either
        try:
            model = AutoModel.from_pretrained(path, add_pooling_layer=False)
        finally:
            hf_logging.set_verbosity(level)
            hf_logging.enable_progress_bar()
        model.eval()
        return cls(path, AutoTokenizer.from_pretrained(path), model, sentence_settings(path))

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Any:
        """Unit-length sentence vectors [n, hidden] (float32 numpy)."""
        import numpy as np
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    list(texts[i : i + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=int(self.settings["max_seq_length"]),
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                if self.settings["pooling"] == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                out.append(pooled.numpy())
        vectors = np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), np.float32)
        return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )
