"""Data-derived text is inert in the documents a run writes: a label `<script>alert(1)</script>`
never appears verbatim in report.md, model_card.md, data_card.md or service/API.md; and the API
docs' examples are made up (shape and types), never a row of the data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import run_cli
from trainer_agent.skills.markdown_safe import md_json, md_text
from trainer_agent.skills.serve.examples import SYNTHETIC_TEXT, synthetic_example

HOSTILE = "<script>alert(1)</script>"
OTHER = "b&c|<i>d</i>"


def test_md_text_and_md_json() -> None:
    assert md_text(HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert md_text("a|b\nc & `d`") == "a\\|b c &amp; `d`"
    encoded = md_json({"label": HOSTILE, "x": OTHER})
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded
    assert json.loads(encoded) == {"label": HOSTILE, "x": OTHER}


def test_synthetic_examples_have_the_shape_and_types() -> None:
    inputs = [{"column": "age", "kind": "float"}, {"column": "city", "kind": "string"}]
    assert synthetic_example("tabular_classification", inputs) == {"age": 0.0, "city": "text"}
    assert synthetic_example("text_classification", [{"column": "review"}]) == SYNTHETIC_TEXT
    assert synthetic_example("image_classification", [{"column": "image"}]) is None


def test_a_hostile_label_is_inert_in_every_document_and_the_docs_show_no_data_row(
    fine_foods_small: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = fine_foods_small
    labels = {"great": HOSTILE, "other": OTHER}
    for source in (train, test):
        frame = pd.read_csv(source)
        frame["score"] = frame["score"].map(labels)
        frame.to_csv(tmp_path / source.name, index=False)
    result = run_cli(
        "run", "Classify the reviews (label column score, text column review).",
        "--data", str(tmp_path / train.name), "--test-data", str(tmp_path / test.name),
        "--out", str(tmp_path / "runs"), "--sandbox", "local", "--llm", "offline", "--json",
    )  # fmt: skip
    assert result.code in (0, 3), result.stderr
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    documents = {
        name: (run_dir / name).read_text() for name in ("report.md", "model_card.md", "data_card.md")
    }
    documents["API.md"] = (run_dir / "service" / "API.md").read_text()
    for name, text in documents.items():
        assert HOSTILE not in text and "<i>" not in text, name
    assert md_text(HOSTILE) in documents["model_card.md"]  # shown, as text
    assert md_text(HOSTILE) in documents["data_card.md"]

    api = documents["API.md"]
    assert SYNTHETIC_TEXT in api
    reviews = pd.read_csv(tmp_path / test.name)["review"].astype(str)
    assert not [r for r in reviews if r[:40] in api], "a review of the data is in API.md"
    openapi = json.loads((run_dir / "service" / "openapi.json").read_text())
    body = openapi["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["one"]["value"] == {"inputs": [SYNTHETIC_TEXT]}
    assert HOSTILE not in openapi["info"]["description"]
