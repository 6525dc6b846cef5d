"""The internal model library: every finished training registers its model (task type, labels,
data signature, metrics, size, latency) in SQLite beside the dataset catalog
($TRAINER_AGENT_HOME or ~/.trainer-agent, file models.db). Before training, the Model agent looks
for a model that already meets the new request on the same data and reuses it (re-evaluated on
the held-out data), or warm-starts from the closest one trained on other data (its family and
settings are tried first).

    reg = Registry()
    hit = reg.reuse(spec, data, "runs/<id>")     # a TrainResult, or None
    reg.register(spec, data, result)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainer_agent.skills.data.catalog import home
from trainer_agent.skills.model.evaluate import check_requirements, compute
from trainer_agent.skills.model.model_data import load_features
from trainer_agent.skills.model.model_files import load_model, predict_with, read_model_info
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType, TrainResult

COLUMNS = (
    "id, created, task_type, labels, data_sig, label_column, text_column, features, family, params, "
    "size_bytes, metrics, train_seconds, model_path, request"
)


def data_signature(data: DataReport) -> str:
    """SHA-256 (16 hex digits) of the training and test files and the columns used."""
    digest = hashlib.sha256()
    for path in (data.train_path, data.test_path):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    digest.update(json.dumps([data.label_column, data.text_column, data.feature_columns]).encode())
    return digest.hexdigest()[:16]


class Registry:
    def __init__(self, path: str | Path | None = None) -> None:

        self.path = Path(path) if path else home() / "models.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, created TEXT, task_type TEXT, "
                "labels TEXT, data_sig TEXT, label_column TEXT, text_column TEXT, features TEXT, "
                "family TEXT, params INTEGER, "
                "size_bytes INTEGER, metrics TEXT, train_seconds REAL, model_path TEXT, request TEXT)"
            )

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def register(self, spec: TaskSpec, data: DataReport, result: TrainResult) -> str:
        sig = data_signature(data)
        model_id = hashlib.sha256(f"{sig}{result.model_path}{time.time()}".encode()).hexdigest()[:12]
        row = (
            model_id,
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
            str(spec.task_type.value if hasattr(spec.task_type, "value") else spec.task_type),
            json.dumps(result.labels),
            sig,
            data.label_column,
            data.text_column,
            json.dumps(data.feature_columns),
            result.family,
            result.params,
            result.size_bytes,
            json.dumps(result.metrics),
            result.train_seconds,
            str(Path(result.model_path).resolve()),
            spec.request,
        )
        with self._db() as db:
            db.execute(f"INSERT INTO models ({COLUMNS}) VALUES ({', '.join('?' * 15)})", row)
        return model_id

    def entries(self, task_type: str | None = None) -> list[dict[str, Any]]:
        with self._db() as db:
            db.row_factory = sqlite3.Row
            query = f"SELECT {COLUMNS} FROM models" + (" WHERE task_type = ?" if task_type else "")
            rows = db.execute(query + " ORDER BY created DESC", (task_type,) if task_type else ()).fetchall()
        out = []
        for r in rows:
            e = dict(r)
            e["labels"], e["metrics"] = json.loads(e["labels"]), json.loads(e["metrics"])
            e["features"] = json.loads(e["features"])
            out.append(e)
        return out

    def find(self, spec: TaskSpec, data: DataReport) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(a model trained on the same data that meets every requirement it can be judged on here,
        the closest model of the same task and labels, trained on other data, for a warm start),
        either may be None. Never a warm start from the same data: a model trained on these very
        files is reused or not, and starting from it would make a repeated request train
        differently each time (and `run --reuse`, whose train key holds the warm-start model's
        content, never take the earlier run's training)."""

        task = str(getattr(spec.task_type, "value", spec.task_type))
        sig = data_signature(data)
        labels = sorted(data.label_counts) if data.label_counts else None
        same, close = None, None
        for e in self.entries(task):
            if not Path(e["model_path"]).is_file():
                continue  # its run directory is gone
            if e["data_sig"] == sig and same is None:
                measured = {**e["metrics"], "params": e["params"], "size_bytes": e["size_bytes"]}
                checks = [c for c in check_requirements(spec.requirements, measured) if c.met is not None]
                if all(c.met for c in checks):
                    same = e
            if close is None and e["data_sig"] != sig and (labels is None or sorted(e["labels"]) == labels):
                close = e
        return same, close

    def reuse(self, spec: TaskSpec, data: DataReport, out_dir: str | Path) -> TrainResult | None:
        """Copy a registered model that meets the request into `out_dir`/models, re-evaluate it on the
        held-out data, and return its TrainResult (with `reused_from` and the time saved), or None."""

        start = time.perf_counter()
        entry, _ = self.find(spec, data)
        if entry is None:
            return None
        src = Path(entry["model_path"])
        models = Path(out_dir) / "models"
        models.mkdir(parents=True, exist_ok=True)
        for name in (src.name, "model.json"):
            shutil.copy2(src.with_name(name), models / name)
        info = read_model_info(models / src.name)
        task = TaskType(info["task_type"])
        x_test, y_test = load_features(task, info, data.test_path)
        pred, proba = predict_with(info, load_model(models / src.name), x_test)
        metrics = compute(task, y_test, pred, proba, list(info.get("labels") or []))
        seconds = time.perf_counter() - start
        saved = max(0.0, float(entry["train_seconds"]) - seconds)
        return TrainResult(
            family=entry["family"],
            params=entry["params"],
            size_bytes=(models / src.name).stat().st_size,
            model_path=str(models / src.name),
            labels=list(info.get("labels") or []),
            metrics=metrics,
            train_seconds=round(seconds, 3),
            notes=[
                f"Reused model {entry['id']} from the model library (trained {entry['created']} on the same "
                f"data, meets the request): {seconds:.1f} s instead of {entry['train_seconds']:.1f} s of "
                f"training, {saved:.1f} s saved."
            ],
            source="registry",
            reused_from=entry["id"],
            tuning={"time_saved_s": round(saved, 3)},
        )

    def warm_start(self, spec: TaskSpec, data: DataReport) -> dict[str, Any] | None:
        """The closest registered model (same task type and labels, newest first): its family and
        settings to try first (`families`: family -> settings; an ensemble gives its members), its
        training time and file (a torch net's weights can seed the new one)."""
        _, close = self.find(spec, data)
        if close is None:
            return None
        try:
            info = json.loads(Path(close["model_path"]).with_name("model.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None
        hyper = info.get("hyperparameters", {})
        # an ensemble warm-starts its members: their families first, each with its own settings
        members = hyper.get("members") if isinstance(hyper.get("members"), dict) else {}
        return {
            "id": close["id"],
            "created": close["created"],
            "family": close["family"],
            "hyperparameters": hyper,
            "families": {**members} if members else {close["family"]: hyper},
            "train_seconds": close["train_seconds"],
            "metrics": close["metrics"],
            "model_path": close["model_path"],
        }
