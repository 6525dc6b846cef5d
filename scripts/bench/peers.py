#!/usr/bin/env python
"""Against peers: a plain scikit-learn baseline and FLAML (AutoML) on the same data and split as the
end-to-end benchmark, FLAML with the same time budget as trainer-agent's training step.

    .venv/bin/python scripts/bench/peers.py [--tasks text,tabular_cls,tabular_reg,image] [--budget-s N]

- scikit-learn baseline: TF-IDF (word 1-2 grams) + logistic regression for text; histogram gradient
  boosting for tables (and for the digits, as 64 pixel columns); library defaults, seed 0; the
  median fit time of 3 fits.
- FLAML: `AutoML.fit(task=classification|regression, metric=accuracy|r2, time_budget=B)`, where B is
  the median seconds of trainer-agent's train step for that task in results/e2e.json (or
  --budget-s; 30 s when neither exists, e.g. for the image task that trainer-agent declines).
  Text goes to FLAML as the same TF-IDF features as the baseline's (FLAML has no text learner
  without transformers).
- Both train on the raw training file; trainer-agent's data stage may drop duplicates or fix labels
  first (its run says how many), and all are evaluated on the same untouched test file.

Needs the `bench` extra (`pip install -e '.[bench]'`; run_all installs it). Writes
scripts/bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

from benchlib import TASKS, Task, categories_like_train, make_datasets, peer_data, read_result, write_result

DEFAULT_BUDGET_S = 30.0


def load_split(train: Any, test: Any, label: str, text: str | None, regression: bool) -> tuple[Any, ...]:
    """(x, y, x_test, y_test) from two files: the text column as strings; a table of numbers as a
    float array; a table with string columns as frames whose strings are categories (the peers
    read those natively, as a person using them would)."""
    import pandas as pd

    frames = [pd.read_csv(path) for path in (train, test)]
    ys = [(f[label].astype(float) if regression else f[label].astype(str)).to_numpy() for f in frames]
    if text:
        xs = [f[text].fillna("").astype(str).to_numpy() for f in frames]
    else:
        xs = [f.drop(columns=[label]) for f in frames]
        if all(pd.api.types.is_numeric_dtype(xs[0][c]) for c in xs[0].columns):
            xs = [x.to_numpy(dtype=float) for x in xs]
        else:
            xs = list(categories_like_train(*xs))
    return xs[0], ys[0], xs[1], ys[1]


def score(kind: str, y_true: Any, y_pred: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

    if kind == "tabular_regression":
        return {"r2": float(r2_score(y_true, y_pred)), "mae": float(mean_absolute_error(y_true, y_pred))}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, average="macro")),
    }


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=2)


def sklearn_baseline(
    kind: str, x: Any, y: Any, xt: Any, yt: Any, is_text: bool, repeats: int = 3
) -> dict[str, Any]:
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if is_text:
        model = make_pipeline(_vectorizer(), LogisticRegression(max_iter=1000))
        name = "TF-IDF 1-2 grams + LogisticRegression"
    elif kind == "tabular_regression":
        model, name = HistGradientBoostingRegressor(random_state=0), "HistGradientBoostingRegressor"
    else:
        model, name = HistGradientBoostingClassifier(random_state=0), "HistGradientBoostingClassifier"
    times = []
    for _ in range(repeats):  # the median: one fit can stall behind other work on a busy machine
        fresh = clone(model)
        t0 = time.perf_counter()
        fresh.fit(x, y)
        times.append(round(time.perf_counter() - t0, 3))
    pred = fresh.predict(xt)  # seeded: every repeat fits the same model
    return {
        "model": name,
        "fit_s": statistics.median(times),
        "fit_s_each": times,
        "metrics": score(kind, yt, pred),
    }


def flaml_automl(kind: str, x: Any, y: Any, xt: Any, yt: Any, is_text: bool, budget: float) -> dict[str, Any]:
    from flaml import AutoML

    t0 = time.perf_counter()
    if is_text:
        vec = _vectorizer()
        x = vec.fit_transform(x)
        xt_in = vec.transform(xt)
    else:
        xt_in = xt
    prep_s = time.perf_counter() - t0
    automl = AutoML()
    regression = kind == "tabular_regression"
    encoder = None
    if not regression:  # xgboost in FLAML wants classes 0..k-1, whatever the input
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder().fit(y)
        y = encoder.transform(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automl.fit(
            x,
            y,
            task="regression" if regression else "classification",
            metric="r2" if regression else "accuracy",
            time_budget=max(1.0, budget - prep_s),
            seed=0,
            verbose=0,
        )
    fit_s = time.perf_counter() - t0
    pred = automl.predict(xt_in)
    if encoder is not None:
        pred = encoder.inverse_transform(pred.astype(int))
    return {
        "model": f"FLAML {automl.best_estimator}",
        "fit_s": round(fit_s, 3),
        "budget_s": round(budget, 1),
        "metrics": score(kind, yt, pred),
        "best_config": automl.best_config,
    }


def both_peers(task: Task, budget: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """scikit-learn defaults, then FLAML with `budget` seconds, on the task's peer files."""
    train, test, text = peer_data(task)
    regression = task.kind == "tabular_regression"
    x, y, xt, yt = load_split(train, test, task.label, text, regression)
    kind = "tabular_classification" if task.kind == "image_classification" else task.kind
    base = sklearn_baseline(kind, x, y, xt, yt, text is not None)
    print(f"{task.name}: scikit-learn {base['metrics']} in {base['fit_s']} s", flush=True)
    auto = flaml_automl(kind, x, y, xt, yt, text is not None, budget)
    print(f"{task.name}: {auto['model']} {auto['metrics']} in {auto['fit_s']} s", flush=True)
    return base, auto


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--budget-s", type=float, help="FLAML's time budget for every task (default: e2e's)")
    args = ap.parse_args()
    started = time.time()
    make_datasets()
    e2e = (read_result("e2e") or {}).get("summary", {})
    out: dict[str, Any] = {}
    for name in args.tasks.split(","):
        task = TASKS[name]
        train, test, _ = peer_data(task)
        ours = e2e.get(name, {})
        train_s = (ours.get("stages_s") or {}).get("train")
        base, auto = both_peers(task, args.budget_s or train_s or DEFAULT_BUDGET_S)
        out[name] = {
            "metric_name": task.metric,
            "train_file": str(train),
            "test_file": str(test),
            "budget_from": "--budget-s"
            if args.budget_s
            else "median trainer-agent train step (e2e.json)"
            if train_s
            else f"default {DEFAULT_BUDGET_S:g} s (no trainer-agent train step)",
            "trainer_agent": {
                "metric": ours.get("metric"),
                "train_s": train_s,
                "process_wall_s": ours.get("process_wall_s"),
                "decision": ours.get("decision"),
                "family": ours.get("family"),
            },
            "sklearn": base,
            "flaml": auto,
        }
    write_result("peers", {"tasks": out}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
