#!/usr/bin/env python
"""The data and model levers with and without: pseudo-labelling an unlabelled pool and distilling
a teacher through it, and adding a catalog data set, on the bundled reviews as a person with few
labels has them.

    .venv/bin/python scripts/bench/levers.py [--seeds 3] [--labelled 300] [--pool 2000]

Per seed: `--labelled` rows of fine_foods train.csv with their labels, the next `--pool` rows
without, and the untouched test.csv (1,000 rows). The model is the product's default text family,
TF-IDF + logistic regression, fitted on the labelled rows alone (without) and with the lever:
- pseudo-labels, the old rule: every teacher answer at confidence >= 0.7 (uncalibrated, no balance,
  no check; what the issue measured);
- pseudo-labels as `trainer-agent data annotate` makes them now (`annotate_with_teacher`: calibrated,
  class-balanced, kept only when paired cross-validation on the labelled rows shows a gain), at
  --min-confidence 0.9 (the default) and 0.7;
- distillation with the pool (`distil_text`, a student of 2,000 TF-IDF terms): the cross-validated
  gain and its interval that decide, and the held-out accuracy of what is delivered;
- a catalog data set (the remaining 1,700 labelled rows of train.csv, registered with a licence):
  its trial on the person's rows (`skills.data.catalog_data.try_entry`), and the held-out accuracy
  when merged as the trial decides, and when merged regardless.
Writes scripts/bench/results/levers.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from benchlib import ROOT, write_result

FINE_FOODS = ROOT / "configs" / "demo" / "fine_foods"


def student(vocabulary: int | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(sublinear_tf=True, max_features=vocabulary)),
            ("clf", LogisticRegression(max_iter=2000, C=4.0)),
        ]
    )


def accuracy(model: Any, test: Any) -> float:
    return round(float((model.predict(test["review"].astype(str)) == test["score"]).mean()), 4)


def fit_on(labelled: Any, extra: Any = None) -> Any:
    import pandas as pd

    rows = labelled if extra is None or extra.empty else pd.concat([labelled, extra[["review", "score"]]])
    return student().fit(rows["review"].astype(str), rows["score"].astype(str))


def old_rule(labelled: Any, pool: Any) -> Any:
    """Every answer of an uncalibrated teacher at confidence >= 0.7."""
    import numpy as np

    teacher = student().fit(labelled["review"].astype(str), labelled["score"].astype(str))
    probs = teacher.predict_proba(pool["review"].astype(str))
    sure = probs.max(axis=1) >= 0.7
    out = pool[sure].copy()
    out["score"] = np.asarray(teacher.classes_)[probs.argmax(axis=1)][sure]
    return out


def catalog_lever(labelled: Any, catalog: Any, test: Any, seed: int) -> dict[str, Any]:
    """The catalog data set's trial on the person's rows, and the held-out effect of merging it."""
    import tempfile

    from trainer_agent.skills.data.catalog import Entry
    from trainer_agent.skills.data.catalog_data import try_entry

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/catalog.csv"
        catalog.to_csv(path, index=False)
        entry = Entry(
            name="more_reviews",
            path=path,
            kind="labelled",
            label_column="score",
            columns=list(catalog.columns),
            classes=sorted(set(catalog["score"])),
            rows=len(catalog),
            licence="MIT",
        )
        trial, rows = try_entry(entry, labelled, test, "score", "review", ["review"], seed=seed)
    merged = accuracy(fit_on(labelled, rows), test)
    return {
        "rows": trial.rows,
        "trial": {
            "without": trial.without,
            "with": trial.with_catalog,
            "wins": trial.wins,
            "passed": trial.passed,
        },
        "test_merged": merged,
        "test_delivered": merged if trial.passed else accuracy(fit_on(labelled), test),
        "seconds": round(time.perf_counter() - start, 1),
    }


def one_seed(seed: int, n_labelled: int, n_pool: int, n_catalog: int, test: Any) -> dict[str, Any]:
    import pandas as pd

    from trainer_agent.skills.data.annotate import annotate_with_teacher
    from trainer_agent.skills.model.distill import distil_text

    rows = pd.read_csv(FINE_FOODS / "train.csv").sample(frac=1, random_state=seed).reset_index(drop=True)
    labelled = rows.iloc[:n_labelled]
    pool = rows.iloc[n_labelled : n_labelled + n_pool].drop(columns="score")
    truth = rows.iloc[n_labelled : n_labelled + n_pool]["score"]
    out: dict[str, Any] = {"seed": seed, "without": accuracy(fit_on(labelled), test)}
    old = old_rule(labelled, pool)
    out["old_rule"] = {
        "rows": len(old),
        "label_accuracy": round(float((old["score"] == truth[old.index]).mean()), 4) if len(old) else None,
        "classes": old["score"].value_counts().to_dict(),
        "test": accuracy(fit_on(labelled, old), test),
    }
    for bar in (0.9, 0.7):
        start = time.perf_counter()
        r = annotate_with_teacher(labelled, pool, "score", text="review", min_confidence=bar, seed=seed)
        got = r.annotated
        out[f"annotate_{bar}"] = {
            "rows": len(got),
            "label_accuracy": round(float((got["score"] == truth[got.index]).mean()), 4)
            if len(got)
            else None,
            "trial": r.trial,
            "test": accuracy(fit_on(labelled, got), test),
            "seconds": round(time.perf_counter() - start, 1),
        }
    start = time.perf_counter()
    x, y = labelled["review"].astype(str).to_numpy(), labelled["score"].astype(str).to_numpy()
    small = student(2000).fit(x, y)
    outcome = distil_text(x, y, pool["review"].astype(str).to_numpy(), small, seed=seed, say=lambda s: None)
    delivered = outcome.student if outcome.student is not None else small
    out["distill"] = {
        "validation": outcome.report["validation"],
        "kept": outcome.report["kept"],
        "test_plain": accuracy(small, test),
        "test_delivered": accuracy(delivered, test),
        "seconds": round(time.perf_counter() - start, 1),
    }
    catalog = rows.iloc[n_labelled + n_pool : n_labelled + n_pool + n_catalog]
    out["catalog"] = catalog_lever(labelled, catalog, test, seed)
    print(seed, out)
    return out


def main() -> int:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--labelled", type=int, default=300)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--catalog", type=int, default=1700, help="labelled rows in the catalog data set")
    args = ap.parse_args()
    started = time.time()
    test = pd.read_csv(FINE_FOODS / "test.csv")
    runs = [one_seed(s, args.labelled, args.pool, args.catalog, test) for s in range(args.seeds)]
    payload = {"labelled": args.labelled, "pool": args.pool, "catalog": args.catalog, "runs": runs}
    payload["command"] = "scripts/bench/levers.py " + " ".join(sys.argv[1:])
    write_result("levers", payload, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
