#!/usr/bin/env python
"""Label fixes as experiments: are the corrections the Data agent applies under `--approve auto`
right, and do they help on an untouched test split?

    .venv/bin/python scripts/bench/label_fixes.py [--sets breast_cancer,wine,...] [--seeds 2]

Sets: breast_cancer, wine, digits (scikit-learn), imbalanced (make_classification, 14% positives)
and imbalanced_hard (the same with overlapping classes, like a churn table), fine_foods (the
bundled reviews, text). Per set: a stratified 75/25 split with seed 0 (fine_foods: its own
train.csv and test.csv). The
training split is used clean, and with 5% and 10% of its labels flipped at random (seeds 1..N,
the test split never). On each, the Data agent's two skills run as in the data stage
(`find_label_errors`, then `fix_labels` with an approver that says yes, i.e. `--approve auto`),
and the product's default family (random forest for tables, TF-IDF + logistic regression for
text) is fitted with and without the applied corrections and scored on the test split.
Also reported: the rule before this change (relabel every suspect with confidence >= 0.8, no
cap, no check), and `cleanlab.filter.find_label_issues` on the same out-of-fold probabilities
(when cleanlab is installed), as precision/recall of the planted flips.

Writes scripts/bench/results/label_fixes.json.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchlib import ROOT, SEED, write_result

SETS = ("breast_cancer", "wine", "digits", "imbalanced", "imbalanced_hard", "fine_foods")
FLIPS = (0.05, 0.10)
OLD_BAR = 0.8  # the rule before: every suspect at or above it relabelled


def load(name: str) -> tuple[Any, Any, str, str | None]:
    """(train, test, label column, text column) for a set."""
    import numpy as np
    import pandas as pd
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "fine_foods":
        folder = ROOT / "configs" / "demo" / "fine_foods"
        train = pd.read_csv(folder / "train.csv").drop_duplicates("review")
        test = pd.read_csv(folder / "test.csv")
        test = test[~test["review"].isin(set(train["review"]))]
        return train.reset_index(drop=True), test.reset_index(drop=True), "score", "review"
    if name.startswith("imbalanced"):  # about 14% positives; _hard: classes overlap (a churn-like table)
        hard = name.endswith("_hard")
        x, y = datasets.make_classification(
            n_samples=3000,
            n_features=10 if hard else 20,
            n_informative=4 if hard else 8,
            weights=[0.86],
            class_sep=0.5 if hard else 1.0,
            flip_y=0,
            random_state=SEED,
        )
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
        frame["target"] = np.where(y == 1, "yes", "no")
    else:
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        frame["target"] = frame["target"].map(lambda t: f"class_{t}")
    train, test = train_test_split(frame, test_size=0.25, stratify=frame["target"], random_state=SEED)
    return train.reset_index(drop=True), test.reset_index(drop=True), "target", None


def held_out_accuracy(train: Any, labels: Any, test: Any, label: str, text: str | None) -> float:
    """The product's default family fitted on `labels`, accuracy on the test split's labels."""
    import numpy as np

    from trainer_agent.skills.model.model_data import tabular_frame, tabular_inputs
    from trainer_agent.skills.model.tabular_pipelines import pipeline, start_hyper
    from trainer_agent.skills.model.text_features import Counts, text_pipeline
    from trainer_agent.skills.specs import TaskType

    if text:
        x = train[text].astype(str).to_numpy()
        vocab = Counts(x).vocabulary(20_000)
        model = text_pipeline("tfidf-logistic-regression", vocab, 4.0, None, len(set(labels)) == 2, SEED)
        model.fit(x, labels)
        pred = model.predict(test[text].astype(str).to_numpy())
    else:
        cols = [c for c in train.columns if c != label]
        inputs = tabular_inputs(train, cols)
        family = "random-forest-classifier"
        model = pipeline(TaskType.TABULAR_CLASSIFICATION, inputs, family, start_hyper(family), SEED)
        model.fit(tabular_frame(train, inputs), labels)
        pred = model.predict(tabular_frame(test, inputs))
    return round(float(np.mean(pred == test[label].astype(str).to_numpy())), 4)


def precision_recall(rows: set[int], planted: set[int]) -> dict[str, Any]:
    hits = len(rows & planted)
    return {
        "n": len(rows),
        "correct": hits,
        "precision": round(hits / len(rows), 3) if rows else None,
        "recall": round(hits / len(planted), 3) if planted else None,
    }


def one(name: str, train: Any, test: Any, label: str, text: str | None, fraction: float, seed: int) -> dict:
    import numpy as np

    from trainer_agent.skills.data.label_errors import (
        find_label_errors,
        flip_labels,
        out_of_fold_probabilities,
    )
    from trainer_agent.skills.data.label_fixes import corrected_labels, fix_labels

    noisy, planted = flip_labels(train, label, fraction, seed) if fraction else (train.copy(), set())
    noisy[label] = noisy[label].astype(str)
    given = noisy[label].to_numpy()
    start = time.perf_counter()
    found = find_label_errors(noisy, label, text, seed=SEED)
    fix = fix_labels(noisy, label, found.issues, lambda kind, what: True, text=text, seed=SEED)
    seconds = round(time.perf_counter() - start, 2)
    applied = {i.row for i in fix.applied}
    old = [i for i in found.issues if i.confidence >= OLD_BAR]
    row: dict[str, Any] = {
        "set": name,
        "rows": len(noisy),
        "flipped": fraction,
        "seed": seed,
        "planted": len(planted),
        "suspects": precision_recall({i.row for i in found.issues}, planted),
        "proposed": precision_recall({i.row for i in fix.proposed}, planted),
        "capped": fix.capped,
        "trial": fix.trial.model_dump() if fix.trial else None,
        "applied": precision_recall(applied, planted),
        "old_rule": precision_recall({i.row for i in old}, planted),
        "seconds_data_skills": seconds,
        "test_accuracy": {
            "given_labels": held_out_accuracy(noisy, given, test, label, text),
            "with_applied": None,
            "old_rule": None,
            "true_labels": held_out_accuracy(train, train[label].astype(str).to_numpy(), test, label, text),
        },
    }
    acc = row["test_accuracy"]
    acc["with_applied"] = (
        held_out_accuracy(noisy, corrected_labels(given, fix.applied), test, label, text)
        if applied
        else acc["given_labels"]
    )
    acc["old_rule"] = (
        held_out_accuracy(noisy, corrected_labels(given, old), test, label, text)
        if old
        else acc["given_labels"]
    )
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        row["cleanlab"] = None
    else:
        probs, classes = out_of_fold_probabilities(noisy, label, text, seed=SEED)
        index = {c: i for i, c in enumerate(classes)}
        mask = find_label_issues(np.array([index[v] for v in given]), probs)
        row["cleanlab"] = precision_recall({int(r) for r in np.flatnonzero(mask)}, planted)
    print(
        f"{name:13s} flip {fraction:.2f} seed {seed}: applied {len(applied):3d} "
        f"P={row['applied']['precision']} R={row['applied']['recall']} | old rule {len(old):3d} "
        f"P={row['old_rule']['precision']} | test acc given {acc['given_labels']:.4f} "
        f"fixed {acc['with_applied']:.4f} old {acc['old_rule']:.4f} | {seconds}s",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument(
        "--seeds", type=int, default=2, help="flip seeds per noise level (about 1.5 min each)"
    )
    args = parser.parse_args()
    started = time.time()
    rows = []
    for name in args.sets.split(","):
        train, test, label, text = load(name)
        rows.append(one(name, train, test, label, text, 0.0, 0))
        for fraction in FLIPS:
            rows += [one(name, train, test, label, text, fraction, s) for s in range(1, args.seeds + 1)]
    try:
        from importlib.metadata import version

        cleanlab = version("cleanlab")
    except Exception:
        cleanlab = None
    payload = {"cleanlab": cleanlab, "old_bar": OLD_BAR, "seeds": args.seeds, "runs": rows}
    write_result("label_fixes", payload, started)


if __name__ == "__main__":
    main()
