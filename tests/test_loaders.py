"""Loaders for Excel, class folders of texts and images, saved `datasets`, and SQL, on real data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris

from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.data.loaders import _fix_url, is_url, load_hf_dataset, split_table
from trainer_agent.skills.errors import UserError

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["species"] = [data.target_names[t] for t in data.target]
    return frame


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return pd.read_csv(FINE_FOODS / "train.csv", nrows=40)


def _error(source: object, **kwargs: object) -> str:
    with pytest.raises(UserError) as info:
        load_table(source, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_excel_workbook_round_trips_iris(tmp_path: Path, iris: pd.DataFrame) -> None:
    path = tmp_path / "iris.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["other sheet"]}).to_excel(writer, sheet_name="notes", index=False)
        iris.to_excel(writer, sheet_name="flowers", index=False)
    first = load_table(path)
    assert list(first.columns) == ["note"]
    loaded = load_table(f"{path}#flowers")
    assert list(loaded.columns) == list(iris.columns)
    np.testing.assert_allclose(loaded["sepal length (cm)"].to_numpy(), iris["sepal length (cm)"].to_numpy())
    assert loaded["species"].tolist() == iris["species"].tolist()
    assert pd.api.types.is_string_dtype(loaded["species"])
    assert "has no sheet 'petals'" in _error(f"{path}#petals")


def test_folder_of_text_files_per_class(tmp_path: Path, reviews: pd.DataFrame) -> None:
    for i, row in reviews.iterrows():
        folder = tmp_path / "reviews" / row["score"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:03d}.txt").write_text(row["review"], encoding="utf-8")
    df = load_table(tmp_path / "reviews")
    assert sorted(df.columns) == ["file", "label", "text"]
    assert len(df) == len(reviews)
    assert df["label"].value_counts().to_dict() == reviews["score"].value_counts().to_dict()
    by_file = dict(zip(df["file"], df["text"], strict=True))
    first = reviews.iloc[0]
    assert by_file[f"{first['score']}/000.txt"] == first["review"].strip()
    (tmp_path / "reviews" / "great" / "bad.txt").write_bytes(b"caf\xe9")
    assert "bad.txt' is not UTF-8 text: byte 0xe9 at offset 3" in _error(tmp_path / "reviews")


def test_image_folder_per_class(tmp_path: Path) -> None:
    from PIL import Image

    digits = load_digits()
    for i in range(30):
        folder = tmp_path / "digits" / f"digit_{digits.target[i]}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (digits.images[i] * 15).astype(np.uint8)
        Image.fromarray(pixels).resize((8 + i % 3, 8)).save(folder / f"{i}.png")
    df = load_table(tmp_path / "digits")
    assert set(df.columns) >= {"image", "label", "width", "height"}
    assert len(df) == 30
    assert sorted(df["label"].unique()) == sorted({f"digit_{t}" for t in digits.target[:30]})
    assert set(df["width"]) == {8, 9, 10} and set(df["height"]) == {8}
    assert all(Path(p).is_file() for p in df["image"])
    (tmp_path / "digits" / "digit_0" / "broken.png").write_bytes(b"not a png")
    df = load_table(tmp_path / "digits")  # an unreadable image is left out and listed, not fatal
    assert len(df) == 30
    assert [Path(f).name for f, _ in df.attrs["unreadable_images"]] == ["broken.png"]


def test_saved_datasets_dataset_with_class_names(tmp_path: Path, reviews: pd.DataFrame) -> None:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"review": Value("string"), "score": ClassLabel(names=["great", "other"])})
    data = Dataset.from_dict(
        {
            "review": reviews["review"].tolist(),
            "score": [["great", "other"].index(s) for s in reviews["score"]],
        },
        features=features,
    )
    data.save_to_disk(str(tmp_path / "single"))
    DatasetDict({"train": data, "test": data.select(range(5))}).save_to_disk(str(tmp_path / "splits"))
    single = load_table(tmp_path / "single")
    assert single["score"].tolist() == reviews["score"].tolist()
    assert len(load_table(tmp_path / "splits")) == len(reviews)  # the train split
    assert len(load_hf_dataset(tmp_path / "splits", split="test")) == 5
    with pytest.raises(UserError, match="has no split 'valid'"):
        load_hf_dataset(tmp_path / "splits", split="valid")


def test_sqlite_file_and_url(tmp_path: Path, iris: pd.DataFrame, reviews: pd.DataFrame) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        iris.to_sql("flowers", conn, index=False)
    assert load_table(db)["species"].tolist() == iris["species"].tolist()  # the only table
    with sqlite3.connect(db) as conn:
        reviews.to_sql("reviews", conn, index=False)
    assert "several tables (flowers, reviews); name one as" in _error(db)
    assert load_table(f"{db}#reviews")["review"].tolist() == reviews["review"].tolist()
    url = f"sqlite:///{db}#reviews"
    assert is_url(url)
    assert load_table(url)["score"].tolist() == reviews["score"].tolist()
    assert "has no table 'orders'" in _error(f"sqlite:///{db}#orders")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 10)
    assert "is not a readable SQLite database" in _error(garbage)


def test_url_helpers() -> None:
    assert split_table("shop.db#reviews") == ("shop.db", "reviews")
    assert split_table("shop.db") == ("shop.db", None)
    assert not is_url("C:/data/x.csv") and not is_url("data/x.csv")
    # A URL that went through pathlib lost a slash; it gets it back.
    assert _fix_url("postgresql:/team@db/catalog") == "postgresql://team@db/catalog"
    assert _fix_url("postgresql://team@db/catalog") == "postgresql://team@db/catalog"


def test_unreachable_database_url_hides_the_password() -> None:
    message = _error("postgresql://alice:s3cret@127.0.0.1:1/nowhere#t")
    assert "s3cret" not in message and "alice:***@" in message
