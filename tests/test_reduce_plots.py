"""Feature selection, dimensionality reduction with its measured effect, and the PNG plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits, load_wine

from trainer_agent.skills.data.plots import make_plots
from trainer_agent.skills.data.reduce import describe, project, reduce_dimensions, select_columns

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"
PNG = b"\x89PNG\r\n\x1a\n"


def test_select_columns_drops_constant_duplicate_and_id_columns() -> None:
    frame = load_wine(as_frame=True).frame
    frame["sample_id"] = np.arange(len(frame))
    frame["lab"] = "north"
    frame["alcohol_again"] = frame["alcohol"]
    kept, dropped = select_columns(frame, "target")
    assert dropped == {
        "sample_id": "identifier",
        "lab": "constant",
        "alcohol_again": "duplicate of 'alcohol'",
    }
    assert kept == [c for c in frame.columns if c not in dropped and c != "target"]


def test_pca_on_digits_records_its_effect() -> None:
    digits = load_digits(as_frame=True).frame
    kept, _ = select_columns(digits, "target")
    effect = reduce_dimensions(digits, "target", features=kept, variance=0.9)
    assert effect["method"].startswith("PCA") and effect["inputs"] == len(kept)
    assert 10 < effect["components"] < len(kept) and effect["variance_kept"] >= 0.9
    assert effect["probe_score_before"] > 0.9 and effect["probe_score_after"] > 0.85
    assert "components keep" in describe(effect)
    reduced = project(digits, "target", effect["components"], features=kept)
    assert reduced.shape == (len(digits), effect["components"] + 1)


def test_truncated_svd_on_text() -> None:
    reviews = pd.read_csv(FINE_FOODS / "train.csv", nrows=400)
    effect = reduce_dimensions(reviews, "score", text="review", max_components=50)
    assert effect["method"] == "TruncatedSVD of TF-IDF" and effect["inputs"] > 1000
    assert effect["components"] == 50 and 0 < effect["variance_kept"] < 0.95


def test_plots_for_text(tmp_path: Path) -> None:
    train = pd.read_csv(FINE_FOODS / "train.csv", nrows=300)
    test = pd.read_csv(FINE_FOODS / "test.csv", nrows=100)
    paths = make_plots(train, test, tmp_path, "score", text="review")
    assert [Path(p).name for p in paths] == [
        "label_distribution.png",
        "text_lengths.png",
        "projection_2d.png",
    ]
    assert all(Path(p).read_bytes()[:8] == PNG for p in paths)


def test_plots_for_a_table_with_missing_values(tmp_path: Path) -> None:
    frame = load_wine(as_frame=True).frame
    frame.loc[[3, 4, 5], "ash"] = np.nan
    paths = make_plots(frame, None, tmp_path, "target", raw=frame)
    assert [Path(p).name for p in paths] == [
        "label_distribution.png",
        "projection_2d.png",
        "missing_values.png",
    ]
    complete = make_plots(frame.dropna(), None, tmp_path / "b", "target")
    assert "missing_values.png" not in [Path(p).name for p in complete]


def test_image_grid(tmp_path: Path) -> None:
    from PIL import Image

    digits = load_digits()
    rows = []
    for i in range(12):
        path = tmp_path / f"{i}.png"
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(path)
        rows.append({"image": str(path), "label": str(digits.target[i]), "width": 8, "height": 8})
    paths = make_plots(pd.DataFrame(rows), None, tmp_path / "plots", "label")
    assert [Path(p).name for p in paths] == ["label_distribution.png", "image_samples.png"]
