"""Small real data sets as the Data agent would hand them over, and trained/exported models on
them, built once per test session (a module-level cache, so several test files share them)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer_agent.skills.specs import DataReport, ExportResult, Requirement, TaskSpec, TrainResult

ROOT = Path(__file__).resolve().parents[1]
FINE_FOODS = ROOT / "configs" / "demo" / "fine_foods"
_BASE = Path(tempfile.mkdtemp(prefix="trainer-agent-models-"))
atexit.register(shutil.rmtree, _BASE, ignore_errors=True)
_CACHE: dict[tuple, Any] = {}


@dataclass
class Built:
    spec: TaskSpec
    data: DataReport
    run_dir: Path
    train: TrainResult | None = None
    export: ExportResult | None = None


def _split(
    frame: pd.DataFrame, label: str, test_frac: float, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    test_idx = rng.random(len(frame)) < test_frac
    return frame[~test_idx].reset_index(drop=True), frame[test_idx].reset_index(drop=True)


def _frame(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str, str | None, str]:
    """(train, test, label column, text column, task type) for a named data set."""
    from sklearn import datasets

    if name == "fine_foods":
        train = pd.read_csv(FINE_FOODS / "train.csv").sample(n=600, random_state=0)
        test = pd.read_csv(FINE_FOODS / "test.csv").sample(n=200, random_state=0)
        return train, test, "score", "review", "text_classification"
    if name == "iris":
        frame = datasets.load_iris(as_frame=True).frame
        frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
        return (*_split(frame, "target", 0.3), "target", None, "tabular_classification")
    if name == "diabetes":
        frame = datasets.load_diabetes(as_frame=True).frame
        return (*_split(frame, "target", 0.25), "target", None, "tabular_regression")
    if name == "wine_mixed":
        # numbers with gaps plus a string column with gaps: both input kinds and both imputations
        frame = datasets.load_wine(as_frame=True).frame
        rng = np.random.default_rng(1)
        frame["cellar"] = rng.choice(["north", "south", "east"], len(frame))
        frame.loc[rng.random(len(frame)) < 0.1, "cellar"] = None
        frame.loc[rng.random(len(frame)) < 0.1, "alcohol"] = np.nan
        frame["target"] = frame["target"].map({0: "a", 1: "b", 2: "c"})
        return (*_split(frame, "target", 0.3), "target", None, "tabular_classification")
    raise KeyError(name)


def make_data(name: str, requirements: tuple[Requirement, ...] = ()) -> Built:
    """CSV files and the TaskSpec/DataReport for a named data set (no training)."""
    key = ("data", name, tuple(r.model_dump_json() for r in requirements))
    if key in _CACHE:
        return _CACHE[key]
    train, test, label, text, task = _frame(name)
    folder = _BASE / f"{name}-{len(_CACHE)}"
    (folder / "data").mkdir(parents=True)
    train_path, test_path = folder / "data" / "train.csv", folder / "data" / "test.csv"
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    features = [] if text else [c for c in train.columns if c != label]
    spec = TaskSpec(
        request=f"Predict {label} from the {name} data.",
        task_type=task,
        label_column=label,
        text_column=text,
        feature_columns=features,
        requirements=list(requirements),
    )
    counts = train[label].astype(str).value_counts().to_dict() if "classification" in task else {}
    data = DataReport(
        train_path=str(train_path),
        test_path=str(test_path),
        test_from="user" if name == "fine_foods" else "split",
        n_train=len(train),
        n_test=len(test),
        columns=list(train.columns),
        label_column=label,
        text_column=text,
        feature_columns=features,
        label_counts=counts,
    )
    built = Built(spec=spec, data=data, run_dir=folder)
    _CACHE[key] = built
    return built


def trained(
    name: str,
    requirements: tuple[Requirement, ...] = (),
    export: bool = False,
    families: tuple[str, ...] = (),
) -> Built:
    """A model trained (and, with `export`, exported) on a named data set, cached. `families`: the
    catalog families to try instead of the default search (train_model's `families`), for a test of
    one family's own properties; the default search's choice follows the catalog's defaults."""
    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.train import train_model

    built = make_data(name, requirements)
    if families:  # the same data, its own run directory
        key = ("families", name, tuple(r.model_dump_json() for r in requirements), families)
        if key not in _CACHE:
            folder = built.run_dir.parent / f"{built.run_dir.name}-{'+'.join(families)}"
            folder.mkdir()
            _CACHE[key] = Built(spec=built.spec, data=built.data, run_dir=folder)
        built = _CACHE[key]
    if built.train is None:
        built.train = train_model(
            built.spec, built.data, built.run_dir, seed=0, families=list(families) or None
        )
    if export and built.export is None:
        built.export = export_onnx(built.spec, built.data, built.train, built.run_dir)
    return built


def params_under(limit: float) -> tuple[Requirement, ...]:
    return (Requirement(name="params", op="<", target=limit, text=f"under {limit:g} parameters"),)


def as_run(built: Built, folder: Path) -> Path:
    """A run directory in `folder` as the pipeline leaves it after export: state.json with the
    parse/data/train/export steps done, spec.json, and exports/model.onnx (a copy)."""
    import json

    assert built.train is not None and built.export is not None, "train and export the model first"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "exports").mkdir(exist_ok=True)
    model = folder / "exports" / "model.onnx"
    shutil.copy2(built.export.onnx_path, model)
    export = built.export.model_copy(update={"onnx_path": str(model)})
    steps = {
        "parse": built.spec.model_dump(mode="json"),
        "data": built.data.model_dump(mode="json"),
        "train": built.train.model_dump(mode="json"),
        "export": export.model_dump(mode="json"),
    }
    state = {
        "run_id": folder.name,
        "status": "finished",
        "steps": {name: {"status": "done", "result": result} for name, result in steps.items()},
    }
    (folder / "state.json").write_text(json.dumps(state, indent=2))
    (folder / "spec.json").write_text(built.spec.model_dump_json(indent=2))
    return folder
