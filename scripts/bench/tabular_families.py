#!/usr/bin/env python
"""Tables where boosting with categorical columns matters: the Model agent's default search against
its previous default families (no LightGBM) and plain library defaults, on the same split.

    .venv/bin/python scripts/bench/tabular_families.py [--sets churn_like,friedman_cats]

Rows: the default search, the same under `--budget-min 1` (LightGBM tuned by Optuna for half of
it), and the previous default families. Two synthetic tables made here with seed 0 (80/20 split;
rows are i.i.d.): `churn_like` (5,000 rows, 12 numeric columns, 3 string columns that interact
with the label, 14% positives, 5% missing in one column) and `friedman_cats` (Friedman #1, 3,000
rows, 8 numbers, plus a string column that shifts the target). Training calls
`skills.model.train.train_model` directly (no agents, no sandbox). The peers are HistGradientBoosting
and LightGBM with their defaults, string columns as pandas categories. Writes
scripts/bench/results/tabular_families.json; run directories go to runs/bench/tabular_families/.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

from benchlib import SEED, WORK, categories_like_train, write_result

OUT = WORK / "tabular_families"
BUDGET_MIN = 1.0  # the `--budget-min` row: LightGBM tuned by Optuna for half of it, then the rest
PREVIOUS = {  # the default families before LightGBM joined them
    "tabular_classification": [
        "logistic-regression",
        "random-forest-classifier",
        "gradient-boosting-classifier",
    ],
    "tabular_regression": ["ridge-regression", "random-forest-regressor", "gradient-boosting-regressor"],
}


def churn_like() -> tuple[Any, str]:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(SEED)
    n = 5000
    x, y = make_classification(n, 12, n_informative=6, weights=[0.86], flip_y=0.02, random_state=SEED)
    frame = pd.DataFrame(x, columns=[f"n{i}" for i in range(12)])
    plan = rng.choice(["basic", "plus", "premium", "family"], n)
    contract = rng.choice(["monthly", "yearly", "two-year"], n)
    y = np.where((plan == "basic") & (contract == "monthly") & (rng.random(n) < 0.5), 1, y)
    frame["plan"], frame["region"], frame["contract"] = (
        plan,
        rng.choice([f"r{i}" for i in range(12)], n),
        contract,
    )
    frame.loc[rng.random(n) < 0.05, "n3"] = np.nan
    frame["target"] = np.where(y == 1, "churn", "stay")
    return frame, "tabular_classification"


def friedman_cats() -> tuple[Any, str]:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_friedman1

    rng = np.random.default_rng(SEED)
    x, y = make_friedman1(3000, 8, noise=1.0, random_state=SEED)
    frame = pd.DataFrame(x, columns=[f"n{i}" for i in range(8)])
    kind = rng.choice(["a", "b", "c", "d"], 3000)
    frame["kind"], frame["target"] = kind, y + np.select([kind == "a", kind == "b"], [3.0, -2.0], 0.0)
    return frame, "tabular_regression"


SETS = {"churn_like": churn_like, "friedman_cats": friedman_cats}


def _peers(train: Any, test: Any, features: list[str], classify: bool) -> dict[str, Any]:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score

    xtr, xte = categories_like_train(train[features], test[features])
    hgb = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    lgbm = LGBMClassifier if classify else LGBMRegressor
    out = {}
    for name, model in (
        ("histgb_defaults", hgb(random_state=SEED, categorical_features="from_dtype")),
        ("lightgbm_defaults", lgbm(random_state=SEED, verbose=-1, n_jobs=1)),
    ):
        t0 = time.perf_counter()
        pred = model.fit(xtr, train["target"]).predict(xte)
        score = accuracy_score(test["target"], pred) if classify else r2_score(test["target"], pred)
        out[name] = {"metric": round(float(score), 4), "seconds": round(time.perf_counter() - t0, 1)}
    return out


def run_set(name: str) -> dict[str, Any]:
    from trainer_agent.skills.model.train import train_model
    from trainer_agent.skills.specs import DataReport, TaskSpec

    frame, task = SETS[name]()
    cut = int(0.8 * len(frame))
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    features = [c for c in frame.columns if c != "target"]
    spec = TaskSpec(request=name, task_type=task, label_column="target")
    data = DataReport(
        train_path=str(folder / "train.csv"),
        test_path=str(folder / "test.csv"),
        test_from="split",
        n_train=len(train),
        n_test=len(test),
        columns=list(frame.columns),
        label_column="target",
        feature_columns=features,
    )
    classify = task == "tabular_classification"
    key = "accuracy" if classify else "r2"
    row: dict[str, Any] = {"task": task, "metric": key, "rows": [len(train), len(test)]}
    for label, families, budget in (
        ("default_search", None, None),
        ("budget_search", None, BUDGET_MIN),
        ("previous_families", PREVIOUS[task], None),
    ):
        t0 = time.perf_counter()
        r = train_model(
            spec,
            data,
            folder / label,
            seed=SEED,
            families=families,
            budget_min=budget,
            progress=lambda _: None,
        )
        row[label] = {
            "metric": round(r.metrics[key], 4),
            "family": r.family,
            "params": r.params,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    row |= _peers(train, test, features, classify)
    print(name, row, flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    started = time.time()
    results = {name: run_set(name) for name in args.sets.split(",")}
    write_result("tabular_families", {"sets": results}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
