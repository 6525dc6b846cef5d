"""Transformers as candidates of the text selection: trained with the transformers Trainer on the
word ids the ONNX graph makes, exported with the tokenizer in the graph (parity with PyTorch),
from scratch offline or pretrained from a local directory (--model-dir), within a parameter limit."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest_models import make_data, params_under
from trainer_agent.skills.export.export import export_onnx, onnx_param_count
from trainer_agent.skills.export.onnx_predict import OnnxPredictor
from trainer_agent.skills.model.train import train_model

BUDGET_MIN = 0.15  # 9 s of training a family: enough to check the plumbing, not the accuracy


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.delenv("TRAINER_AGENT_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _check_onnx(b, r, out: Path):
    e = export_onnx(b.spec, b.data, r, out, quantize=False, tensorrt=None)
    assert e.parity.n == 200 and e.parity.label_agreement == 1.0 and e.parity.max_abs_diff < 1e-4
    p = OnnxPredictor(e.onnx_path)  # string in, label and probabilities out, as served
    got = p.predict(["Great coffee, will buy again", "", "!!!"])
    assert all(o["label"] in ("great", "other") for o in got)
    return e


def test_from_scratch_transformer_under_one_million_parameters(tmp_path):
    b = make_data("fine_foods", params_under(1_000_000))
    lines: list[str] = []
    r = train_model(
        b.spec, b.data, tmp_path, families=["bert-tiny"], budget_min=BUDGET_MIN, progress=lines.append
    )
    assert r.family == "bert-tiny" and r.source == "from-scratch" and r.model_path.endswith("model.pt")
    # Trainer progress per epoch (a partial one when the time is up: "epoch 0.62")
    assert any(re.match(r"bert-tiny epoch [\d.]+: loss \d", line) for line in lines), lines
    assert r.metrics["accuracy"] >= 0.5
    card = (tmp_path / "model_card.md").read_text()
    assert "from scratch (no local pretrained model; hub downloads are not possible here)" in card
    e = _check_onnx(b, r, tmp_path)
    assert onnx_param_count(e.onnx_path) == r.params <= 1_000_000


def _tiny_pretrained(texts: list[str], folder: Path) -> Path:
    """A small BERT and its WordPiece tokenizer (trained on `texts`), saved as from the hub."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    tokenizer = BertTokenizerFast(tokenizer_object=tok, do_lower_case=True)
    model = BertForSequenceClassification(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=256,
        )
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_pretrained_from_a_local_directory(tmp_path):
    b = make_data("fine_foods")
    texts = [str(t) for t in pd.read_csv(b.data.train_path)["review"]]
    saved = _tiny_pretrained(texts, tmp_path / "my-bert")
    out = tmp_path / "run"
    r = train_model(
        b.spec, b.data, out, families=["bert-tiny"], budget_min=BUDGET_MIN, model_dir=saved, progress=print
    )
    assert r.source == "pretrained-local"
    assert f"pretrained from {saved}" in (out / "model_card.md").read_text()
    assert any(f"pretrained from {saved}" in n for n in r.notes)  # the notes go into the run report
    hyper = json.loads((out / "models" / "model.json").read_text())["hyperparameters"]
    assert hyper["pieces_per_word"] > 1  # a 400-piece WordPiece vocabulary splits words
    shutil.rmtree(saved)  # model.pt holds the config and weights: the directory is not needed again
    _check_onnx(b, r, out)


def test_the_transformer_is_a_candidate_of_a_budgeted_selection(tmp_path):
    b = make_data("fine_foods", params_under(1_000_000))
    families = ["bert-tiny", "tfidf-complement-nb"]
    r = train_model(b.spec, b.data, tmp_path, families=families, budget_min=BUDGET_MIN, progress=print)
    rows = {c["name"]: c for c in json.loads((tmp_path / "models" / "candidates.json").read_text())}
    assert set(rows) == set(families) and r.family in families
    bert = rows["bert-tiny"]
    assert bert["status"] in ("chosen", "evaluated") and 0 < bert["score"] <= 1
    assert 0 < bert["params"] <= 1_000_000 and bert["estimated_params"] <= 1_000_000
