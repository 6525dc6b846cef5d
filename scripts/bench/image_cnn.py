#!/usr/bin/env python
"""The image CNN against its previous version and pixel baselines, on the same splits.

    .venv/bin/python scripts/bench/image_cnn.py [--sets digits,fashion] [--models new,old,mlp,lr]

Sets: scikit-learn's digits (8x8 gray, 1,797 images, a stratified 80/20 split, seed 0) and, when
the Debian package dataset-fashion-mnist is installed (`apt-get install dataset-fashion-mnist`, MIT
licence; or $FASHION_MNIST_DIR holds its four .gz files), Fashion-MNIST clothing (28x28 gray, 10
classes): 3,000 training and 1,000 test images drawn with seed 0 from its train and test files.
Models, each on the same pixels: `new` (skills.model.image_cnn.fit_image_net with its defaults: shifts,
batch norm, warm-up + cosine, no time limit), `old` (fit_image_net of skills/model/train_image.py at
commit OLD: constant rate, no augmentation, 40 epochs with patience 5, no time limit),
`mlp` (scikit-learn MLPClassifier, its defaults) and `lr` (LogisticRegression, C=1) on pixels/255.
Rows: held-out accuracy, parameters, training seconds, epochs; with the load average. About 3
minutes on 2 busy CPUs. Writes scripts/bench/results/image_cnn.json.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from benchlib import ROOT, SEED, write_result

OLD = "67eb334"  # skills/model/train_image.py before the augmented CNN
FASHION_DIRS = [os.environ.get("FASHION_MNIST_DIR", ""), "/usr/share/datasets/fashion-mnist"]


def digits() -> tuple[Any, Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images * 255 / 16).round().astype(np.uint8)[..., None]  # as tests/test_image.py writes PNGs
    y = d.target.astype(str)
    return tuple(train_test_split(x, y, test_size=0.2, stratify=y, random_state=SEED))  # type: ignore[return-value]


def fashion(n_train: int = 3000, n_test: int = 1000) -> tuple[Any, Any, Any, Any] | None:
    import numpy as np

    found = [Path(d) for d in FASHION_DIRS if d and (Path(d) / "t10k-labels-idx1-ubyte.gz").is_file()]
    folder = found[0] if found else None
    if folder is None:
        return None

    def read(kind: str, n: int) -> tuple[Any, Any]:
        with gzip.open(folder / f"{kind}-images-idx3-ubyte.gz") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        with gzip.open(folder / f"{kind}-labels-idx1-ubyte.gz") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(str)
        pick = np.random.default_rng(SEED).permutation(len(x))[:n]
        return x[pick], y[pick]

    (xa, ya), (xb, yb) = read("train", n_train), read("t10k", n_test)
    return xa, xb, ya, yb


def old_module() -> Any:
    source = subprocess.run(
        ["git", "show", f"{OLD}:skills/train_image.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_train_image.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_train_image", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_net(fit: Any, predict: Any, count: Any, data: tuple) -> dict[str, Any]:
    import numpy as np

    xa, xb, ya, yb = data
    t0 = time.perf_counter()
    net, config = fit(xa, ya, xa.shape[1], xa.shape[3])
    seconds = time.perf_counter() - t0
    pred = np.asarray(config.labels)[predict(net, config, xb).argmax(axis=1)]
    return {
        "accuracy": round(float(np.mean(pred == yb)), 4),
        "params": count(net),
        "train_s": round(seconds, 1),
        "epochs": len(config.history),
        "best_val": max(h.get("val_accuracy", 0.0) for h in config.history),
    }


def run_sklearn(name: str, data: tuple) -> dict[str, Any]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    xa, xb, ya, yb = data
    flat_a = xa.reshape(len(xa), -1) / 255.0
    flat_b = xb.reshape(len(xb), -1) / 255.0
    if name == "mlp":
        model: Any = MLPClassifier(random_state=SEED)
    else:
        model = LogisticRegression(C=1.0, max_iter=500, random_state=SEED)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the MLP's "not converged" at its default 200 iterations
        model.fit(flat_a, ya)
    seconds = time.perf_counter() - t0
    if name == "mlp":
        params = sum(c.size for c in model.coefs_) + sum(b.size for b in model.intercepts_)
    else:
        params = model.coef_.size + model.intercept_.size
    return {
        "accuracy": round(float(np.mean(model.predict(flat_b) == yb)), 4),
        "params": int(params),
        "train_s": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="digits,fashion")
    parser.add_argument("--models", default="new,old,mlp,lr")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both CNNs")
    args = parser.parse_args()
    import torch

    from trainer_agent.skills.model import image_cnn

    torch.set_num_threads(args.threads)  # on a shared machine one thread is the steadier measure

    started = time.time()

    loaders = {"digits": digits, "fashion": fashion}
    rows = []
    for name in args.sets.split(","):
        data = loaders[name]()
        if data is None:
            print(f"{name}: not installed (apt-get install dataset-fashion-mnist), skipped")
            continue
        for model in args.models.split(","):
            load = round(os.getloadavg()[0], 2)
            if model in ("new", "old"):
                mod = image_cnn if model == "new" else old_module()
                row = run_net(mod.fit_image_net, mod.predict_proba_net, mod.count_net_params, data)
            else:
                row = run_sklearn(model, data)
            row = {"set": name, "model": model, **row, "load1_before": load}
            print(row, flush=True)
            rows.append(row)
    if not args.no_write:
        write_result("image_cnn", {"rows": rows, "old_commit": OLD}, started)


if __name__ == "__main__":
    main()
