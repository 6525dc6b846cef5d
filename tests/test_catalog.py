"""The dataset catalog: add, list, search by words with a relevance score, remove; SQLite by default."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from trainer_agent.skills.data.catalog import Catalog, default_url, words
from trainer_agent.skills.errors import UserError

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    monkeypatch.setenv("TRAINER_AGENT_HOME", str(tmp_path / "home"))
    return Catalog()


def test_default_location_follows_trainer_agent_home(catalog: Catalog, tmp_path: Path) -> None:
    assert default_url() == f"sqlite:///{tmp_path / 'home' / 'catalog.db'}"
    assert (tmp_path / "home" / "catalog.db").is_file()


def test_add_list_search_remove(catalog: Catalog, tmp_path: Path) -> None:
    iris = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    iris.to_csv(tmp_path / "iris.csv", index=False)
    pool = pd.read_csv(FINE_FOODS / "test.csv", nrows=50).drop(columns="score")
    pool.to_csv(tmp_path / "pool.csv", index=False)
    foods = catalog.add(FINE_FOODS / "train.csv", "fine_foods", "Amazon fine food reviews, great or other")
    assert foods.kind == "labelled" and foods.label_column == "score" and foods.rows == 4000
    assert sorted(foods.classes) == ["great", "other"]
    assert (
        catalog.add(tmp_path / "pool.csv", "review_pool", "more food reviews to label").kind == "unlabelled"
    )
    catalog.add(tmp_path / "iris.csv", "iris", "flower measurements", label="species")
    assert [e.name for e in catalog.list()] == ["fine_foods", "iris", "review_pool"]

    hits = catalog.search("I need a model for food reviews")
    assert [h.name for h in hits][:2] == ["fine_foods", "review_pool"]
    assert 0 < hits[1].score <= hits[0].score <= 1
    assert [h.name for h in catalog.search("flower species")] == ["iris"]  # a column name matches
    assert catalog.search("satellite images of ships") == []

    with pytest.raises(UserError, match="already has a dataset named 'iris'"):
        catalog.add(tmp_path / "iris.csv", "iris", "again")
    catalog.add(tmp_path / "iris.csv", "iris", "iris flowers, replaced", replace=True)
    assert catalog.search("iris")[0].description == "iris flowers, replaced"
    assert catalog.remove("iris") and not catalog.remove("iris")
    with pytest.raises(UserError, match="label column 'kind' is not in"):
        catalog.add(tmp_path / "iris.csv", "x", label="kind")


def test_a_second_catalog_by_url_is_separate(catalog: Catalog, tmp_path: Path) -> None:
    other = Catalog(f"sqlite:///{tmp_path / 'team.db'}")
    other.add(FINE_FOODS / "test.csv", "foods_test", "held-out food reviews")
    assert [e.name for e in other.list()] == ["foods_test"] and catalog.list() == []


def test_words() -> None:
    assert words("The Reviews of FOOD_products, 2024!") == ["review", "food", "product", "2024"]
