"""Shared pieces of the benchmarks: the tasks and their data, the machine, and the result files.

Not run directly. Every benchmark script imports it:

    from benchlib import TASKS, make_datasets, machine, write_result

Data sets are written under `runs/bench/data/` (git-ignored), results as JSON under
`scripts/bench/results/` (kept in git: `render.py` turns them into docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
WORK = ROOT / "runs" / "bench"
DATA = WORK / "data"
PYTHON = ROOT / ".venv" / "bin" / "python"
SEED = 0

sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Task:
    """One end-to-end benchmark task: the request, its data and the metric that decides quality."""

    name: str
    kind: str  # text_classification, tabular_classification, tabular_regression, image_classification
    request: str
    train: str  # relative to DATA
    test: str
    label: str
    text: str | None
    metric: str  # the held-out metric reported (higher is better except mae/rmse)
    note: str = ""

    @property
    def train_path(self) -> Path:
        return DATA / self.train

    @property
    def test_path(self) -> Path:
        return DATA / self.test

    def run_args(self, out: Path, seed: int, sandbox: str = "local") -> list[str]:
        """`trainer-agent run` on this task as the benchmarks run it: offline brain, JSON report, and
        no warm start from the model library (runs must not learn from each other)."""
        args = ["run", self.request, "--data", str(self.train_path), "--test-data", str(self.test_path)]
        if self.kind != "image_classification":
            args += ["--label", self.label]
        if self.text:
            args += ["--text", self.text]
        args += ["--out", str(out), "--llm", "offline", "--sandbox", sandbox, "--seed", str(seed), "--json"]
        return [*args, "--no-warm-start"]


def demo_request() -> str:
    return (ROOT / "configs" / "demo" / "request.txt").read_text(encoding="utf-8").strip()


TASKS: dict[str, Task] = {
    "text": Task(
        "text",
        "text_classification",
        demo_request(),
        "fine_foods/train.csv",
        "fine_foods/test.csv",
        "score",
        "review",
        "accuracy",
        "Amazon fine-food reviews (bundled): 4,000 train / 1,000 test, labels great/other",
    ),
    "tabular_cls": Task(
        "tabular_cls",
        "tabular_classification",
        "Predict whether a breast tumour is malignant or benign from its cell measurements "
        "(label column diagnosis). Accuracy at least 95% on held-out data, under 100k parameters, "
        "p95 latency under 20 ms.",
        "breast_cancer/train.csv",
        "breast_cancer/test.csv",
        "diagnosis",
        None,
        "accuracy",
        "scikit-learn breast_cancer: 30 numeric features, 426 train / 143 test (stratified, seed 0)",
    ),
    "tabular_reg": Task(
        "tabular_reg",
        "tabular_regression",
        "Predict the disease progression one year after baseline (label column progression) from the "
        "patient measurements. R2 at least 0.4 on held-out data, p95 latency under 20 ms.",
        "diabetes/train.csv",
        "diabetes/test.csv",
        "progression",
        None,
        "r2",
        "scikit-learn diabetes: 10 numeric features, 331 train / 111 test (seed 0)",
    ),
    "image": Task(
        "image",
        "image_classification",
        "Classify images of handwritten digits into 0-9 (the label is the folder name). "
        "Accuracy at least 90% on held-out images.",
        "digits/train",
        "digits/test",
        "label",
        None,
        "accuracy",
        "scikit-learn digits as PNG files, one folder per class: 1,347 train / 450 test (seed 0)",
    ),
}


def make_datasets() -> dict[str, dict[str, str]]:
    """Write every task's train/test data under DATA (idempotent: same seed, same files)."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.model_selection import train_test_split

    out: dict[str, dict[str, str]] = {}
    ff = DATA / "fine_foods"
    ff.mkdir(parents=True, exist_ok=True)
    for part in ("train", "test"):
        src = ROOT / "configs" / "demo" / "fine_foods" / f"{part}.csv"
        (ff / f"{part}.csv").write_bytes(src.read_bytes())

    bc = load_breast_cancer(as_frame=True)
    frame = bc.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    split_csv(frame, "diagnosis", DATA / "breast_cancer", stratify=True)

    db = load_diabetes(as_frame=True, scaled=False)
    frame = db.frame.rename(columns={"target": "progression"})
    split_csv(frame, "progression", DATA / "diabetes", stratify=False)

    digits = load_digits()
    idx = list(range(len(digits.target)))
    tr, te = train_test_split(idx, test_size=0.25, random_state=SEED, stratify=digits.target)
    for part, rows in (("train", tr), ("test", te)):
        _write_digit_images(digits, rows, DATA / "digits" / part)
    # The same digits as 64 pixel columns: what the scikit-learn and FLAML peers train on.
    pixels = pd.DataFrame(digits.data, columns=[f"px{i}" for i in range(64)])
    pixels["label"] = [str(t) for t in digits.target]
    pixels.iloc[tr].to_csv(DATA / "digits" / "train_pixels.csv", index=False)
    pixels.iloc[te].to_csv(DATA / "digits" / "test_pixels.csv", index=False)
    for name, task in TASKS.items():
        out[name] = {"train": str(task.train_path), "test": str(task.test_path)}
    return out


def split_csv(frame: Any, label: str, folder: Path, stratify: bool) -> None:
    from sklearn.model_selection import train_test_split

    folder.mkdir(parents=True, exist_ok=True)
    tr, te = train_test_split(
        frame, test_size=0.25, random_state=SEED, stratify=frame[label] if stratify else None
    )
    tr.to_csv(folder / "train.csv", index=False)
    te.to_csv(folder / "test.csv", index=False)


def _write_digit_images(digits: Any, rows: list[int], folder: Path) -> None:
    """8x8 grey digits scaled to 32x32 PNGs (0-16 -> 0-255), in folder/<digit>/<row>.png."""
    import numpy as np
    from PIL import Image

    for i in rows:
        label_dir = folder / str(digits.target[i])
        label_dir.mkdir(parents=True, exist_ok=True)
        path = label_dir / f"{i:04d}.png"
        if path.exists():
            continue
        pixels = (digits.images[i] * (255 / 16)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels, mode="L").resize((32, 32), Image.NEAREST).save(path)


def peer_data(task: Task) -> tuple[Path, Path, str | None]:
    """The files the peers train on: the same split; digits as pixel columns."""
    if task.name == "image":
        return DATA / "digits" / "train_pixels.csv", DATA / "digits" / "test_pixels.csv", None
    return task.train_path, task.test_path, task.text


# ------------------------------------------------------------------ the machine


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was (other people's work shares it)."""
    load1, load5, load15 = os.getloadavg()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_gib,
        "load_avg": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "uptime": uptime,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "gpu": _gpu(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _gpu() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True
        )
        return out.stdout.strip() or "none"
    except OSError:
        return "none"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


# ------------------------------------------------------------------ results


def write_result(name: str, payload: dict[str, Any], started: float) -> Path:
    """results/<name>.json with the machine before and after (load changes during a benchmark)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def cli(*args: str, timeout: float = 900, tree: Path | None = None) -> tuple[int, float, str, str]:
    """Run `trainer-agent ARGS` as a person would; (exit code, wall seconds, stdout, stderr).

    `tree`: run the code of that checkout instead (`python -m trainer_agent.agents.cli` with it first on
    PYTHONPATH, this interpreter and its packages), e.g. a previous commit in a `git worktree`."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    command = [str(ROOT / ".venv" / "bin" / "trainer-agent")]
    if tree is not None:
        command = [sys.executable, "-m", "trainer_agent.agents.cli"]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH", "")) if p)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*command, *args],
        cwd=tree or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return proc.returncode, time.perf_counter() - t0, proc.stdout, proc.stderr


def categories_like_train(train: Any, test: Any) -> tuple[Any, Any]:
    """Copies of two feature frames with every non-numeric column as a pandas category, the test's
    categories those of the training frame (unseen values become missing), as HistGradientBoosting
    (`categorical_features="from_dtype"`), LightGBM and FLAML read them."""
    import pandas as pd

    train, test = train.copy(), test.copy()
    for c in train.columns:
        if not pd.api.types.is_numeric_dtype(train[c]):
            train[c] = train[c].astype("category")
            test[c] = pd.Categorical(test[c], categories=train[c].cat.categories)
    return train, test
