#!/usr/bin/env python
"""The Model agent per data set: the model it chooses (default quick search, and an Optuna search
under a time budget) against the skeleton's fixed recipe, plus the teacher-student gain.

    .venv/bin/python scripts/bench/models.py [--sets fine_foods,iris,...] [--budget-min 1]
        [--text-budget-min 3] [--no-skeleton]

Each set is split 75/25 with seed 0 (stratified for classes; fine_foods uses its own test file).
Training calls `skills.model.train.train_model` directly (no agents, no sandbox), so the times are the
Model agent's alone. The skeleton is commit 88d7241's `skills/` (TF-IDF with 50,000 terms +
logistic regression for text; gradient boosting for tables), extracted with `git archive` and run
in a subprocess on the same files. Writes scripts/bench/results/models.json; run directories go to
runs/bench/models/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from benchlib import DATA, PYTHON, ROOT, SEED, WORK, write_result

SKELETON_COMMIT = "88d7241"
OUT = WORK / "models"

# name: (task type, label, text column, request)
SETS: dict[str, tuple[str, str, str | None, str]] = {
    "fine_foods": (
        "text_classification",
        "score",
        "review",
        "Classify fine-food reviews as great or other, accuracy at least 80%, under 1M parameters.",
    ),
    "iris": ("tabular_classification", "species", None, "Predict the iris species, accuracy at least 90%."),
    "wine": ("tabular_classification", "cultivar", None, "Predict the wine cultivar, accuracy at least 90%."),
    "breast_cancer": (
        "tabular_classification",
        "diagnosis",
        None,
        "Predict whether a tumour is malignant or benign, accuracy at least 95%.",
    ),
    "digits_pixels": (
        "tabular_classification",
        "label",
        None,
        "Recognise the handwritten digit from its 64 pixels, accuracy at least 95%.",
    ),
    "diabetes": (
        "tabular_regression",
        "progression",
        None,
        "Predict disease progression after one year, R2 at least 0.4.",
    ),
}
PRIMARY = {"tabular_regression": "r2"}


def make_sets() -> dict[str, tuple[Path, Path]]:
    """train/test CSVs of every set under runs/bench/data/models/ (same seed, same files)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    root = DATA / "models"
    out: dict[str, tuple[Path, Path]] = {}
    ff = root / "fine_foods"
    ff.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        shutil.copyfile(ROOT / "configs" / "demo" / "fine_foods" / f"{part}.csv", ff / f"{part}.csv")
    out["fine_foods"] = (ff / "train.csv", ff / "test.csv")
    loaders = {
        "iris": (datasets.load_iris, "species"),
        "wine": (datasets.load_wine, "cultivar"),
        "breast_cancer": (datasets.load_breast_cancer, "diagnosis"),
        "digits_pixels": (datasets.load_digits, "label"),
        "diabetes": (datasets.load_diabetes, "progression"),
    }
    for name, (load, label) in loaders.items():
        bunch = load(as_frame=True)
        frame = bunch.frame.rename(columns={"target": label})
        classify = name != "diabetes"
        if classify:
            names = list(getattr(bunch, "target_names", []))
            frame[label] = [str(names[int(v)]) if names else str(v) for v in frame[label]]
        tr, te = train_test_split(
            frame, test_size=0.25, random_state=SEED, stratify=frame[label] if classify else None
        )
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        tr.to_csv(folder / "train.csv", index=False)
        te.to_csv(folder / "test.csv", index=False)
        out[name] = (folder / "train.csv", folder / "test.csv")
    return out


def spec_and_data(name: str, train: Path, test: Path, request: str | None = None) -> tuple[Any, Any]:
    import pandas as pd

    from trainer_agent.skills.specs import DataReport, TaskSpec
    from trainer_agent.skills.task.requirements import parse_requirements

    task, label, text, default_request = SETS[name]
    request = request or default_request
    frame, test_frame = pd.read_csv(train), pd.read_csv(test)
    features = [c for c in frame.columns if c not in (label, text)] if text is None else []
    counts = {str(k): int(v) for k, v in frame[label].value_counts().items()} if "class" in task else {}
    spec = TaskSpec(
        request=request,
        task_type=task,
        label_column=label,
        text_column=text,
        feature_columns=features,
        requirements=parse_requirements(request, sorted(counts) or None),
    )
    data = DataReport(
        train_path=str(train),
        test_path=str(test),
        test_from="user",
        n_train=len(frame),
        n_test=len(test_frame),
        columns=list(frame.columns),
        label_column=label,
        text_column=text,
        feature_columns=features,
        label_counts=counts,
    )
    return spec, data


def ours(name: str, train: Path, test: Path, budget_min: float | None, tag: str) -> dict[str, Any]:
    from trainer_agent.skills.model.train import train_model

    spec, data = spec_and_data(name, train, test)
    out = OUT / f"{name}-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = train_model(spec, data, out, seed=SEED, budget_min=budget_min, progress=lambda line: None)
    wall = time.perf_counter() - t0
    tried = [
        {k: row.get(k) for k in ("name", "status", "score", "params", "seconds", "reason")}
        for row in result.candidates
    ]
    return {
        "family": result.family,
        "params": result.params,
        "metrics": {k: v for k, v in result.metrics.items() if "[" not in k},
        "train_seconds": result.train_seconds,
        "wall_s": round(wall, 2),
        "budget_min": budget_min,
        "candidates": tried,
        "notes": result.notes,
    }


SKELETON_SNIPPET = """
import json, sys, time
from trainer_agent.skills.specs import DataReport, TaskSpec
from trainer_agent.skills.model.train import train_model
spec = TaskSpec.model_validate_json(sys.argv[1])
data = DataReport.model_validate_json(sys.argv[2])
t0 = time.perf_counter()
r = train_model(spec, data, sys.argv[3], seed=0)
print(json.dumps({"family": r.family, "params": r.params, "metrics": r.metrics,
                  "train_seconds": round(time.perf_counter() - t0, 2)}))
"""


def skeleton_tree() -> Path:
    """The skeleton's skills/ and configs/ at SKELETON_COMMIT, extracted once."""
    tree = WORK / f"skeleton-{SKELETON_COMMIT}"
    if not (tree / "skills" / "train.py").is_file():
        blob = subprocess.run(
            ["git", "archive", SKELETON_COMMIT, "skills", "configs"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(tree, filter="data")
    return tree


def skeleton(name: str, train: Path, test: Path) -> dict[str, Any]:
    spec, data = spec_and_data(name, train, test)
    out = OUT / f"{name}-skeleton"
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run(
        [str(PYTHON), "-c", SKELETON_SNIPPET, spec.model_dump_json(), data.model_dump_json(), str(out)],
        cwd=skeleton_tree(),
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(skeleton_tree()), "PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    found["metrics"] = {k: v for k, v in found["metrics"].items() if "[" not in k}
    return found


def teacher_student(train: Path, test: Path) -> dict[str, Any]:
    """300 labelled reviews + a 2,000-review unlabelled pool, a student under 4,000 parameters whose
    target it misses: the teacher pseudo-labels the pool and is distilled into the student."""
    import pandas as pd

    from trainer_agent.skills.model.train import train_model

    frame = pd.read_csv(train).sample(frac=1.0, random_state=SEED)
    folder = DATA / "models" / "teacher_student"
    folder.mkdir(parents=True, exist_ok=True)
    frame.iloc[:300].to_csv(folder / "labelled.csv", index=False)
    frame.iloc[300:2300].drop(columns=["score"]).to_csv(folder / "pool.csv", index=False)
    request = "Classify reviews as great or other, accuracy at least 90%, under 4,000 parameters."
    spec, data = spec_and_data("fine_foods", folder / "labelled.csv", test, request)
    data.n_train = 300
    out = OUT / "teacher_student"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = train_model(
        spec, data, out, seed=SEED, unlabelled_path=folder / "pool.csv", progress=lambda line: None
    )
    dist = result.distillation or {}
    return {
        "family": result.family,
        "params": result.params,
        "metrics": {k: v for k, v in result.metrics.items() if "[" not in k},
        "train_seconds": round(time.perf_counter() - t0, 2),
        "teacher": dist.get("teacher"),
        "validation": dist.get("validation"),
        "kept": dist.get("kept"),
        "held_out": dist.get("held_out"),
        "summary": dist.get("summary"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--budget-min", type=float, default=0.5, help="Optuna budget for the tabular sets")
    ap.add_argument("--text-budget-min", type=float, default=2.0, help="Optuna budget for fine_foods")
    ap.add_argument("--no-skeleton", action="store_true")
    ap.add_argument("--no-teacher", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    started = time.time()
    files = make_sets()
    rows: dict[str, Any] = {}
    for name in args.sets.split(","):
        train, test = files[name]
        budget = args.text_budget_min if SETS[name][0] == "text_classification" else args.budget_min
        row: dict[str, Any] = {"task_type": SETS[name][0], "request": SETS[name][3]}
        row["metric"] = PRIMARY.get(SETS[name][0], "accuracy")
        print(f"== {name}: default search", file=sys.stderr)
        row["default"] = ours(name, train, test, None, "default")
        print(f"== {name}: Optuna, {budget:g} min", file=sys.stderr)
        row["budget"] = ours(name, train, test, budget, "budget")
        if not args.no_skeleton:
            print(f"== {name}: skeleton {SKELETON_COMMIT}", file=sys.stderr)
            row["skeleton"] = skeleton(name, train, test)
        rows[name] = row
    payload: dict[str, Any] = {"sets": rows, "skeleton_commit": SKELETON_COMMIT}
    if not args.no_teacher:
        print("== teacher-student", file=sys.stderr)
        payload["teacher_student"] = teacher_student(*files["fine_foods"])
    write_result("models", payload, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
