"""Transformers teachers: a tiny BERT from scratch when no model is given (offline), and the
local-directory path: save it, load it back with from_pretrained, fine-tune with the Trainer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest_models import FINE_FOODS
from trainer_agent.skills.model.hf_text import fit_hf_text

TINY = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}


def test_from_scratch_then_from_a_local_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAINER_AGENT_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = pd.read_csv(FINE_FOODS / "train.csv").sample(n=160, random_state=0)
    x, y = [str(t) for t in rows["review"]], [str(s) for s in rows["score"]]
    lines: list[str] = []
    net = fit_hf_text(x, y, tmp_path / "ckpt", config=TINY, epochs=1, progress=lines.append)
    assert net.source == "from-scratch" and net.labels == ["great", "other"]
    assert any("epoch" in line for line in lines) and net.history  # Trainer progress reached us
    proba = net.predict_proba(x[:8])
    assert proba.shape == (8, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)

    net.save(tmp_path / "saved")
    again = fit_hf_text(x, y, tmp_path / "ckpt2", model_dir=tmp_path / "saved", epochs=1, lr=1e-9)
    assert again.source == "pretrained-local" and again.path == str(tmp_path / "saved")
    assert again.params == net.params
    # a learning rate of ~0 keeps the loaded weights: the same predictions as the saved model
    assert np.allclose(again.predict_proba(x[:8]), proba, atol=1e-4)


def test_a_missing_model_directory_is_a_user_error(tmp_path):
    from trainer_agent.skills.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        fit_hf_text(["a b", "c d"] * 10, ["x", "y"] * 10, tmp_path / "c", model_dir=tmp_path / "nope")
