"""Image classification end to end on scikit-learn's digits written as real PNG files: loading (a
folder per class, a CSV of paths), skipping corrupt files, training within a parameter limit,
ONNX export parity, the service on base64 images, and one CLI run."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import Requirement, TaskSpec, TaskType

REQUEST = "Classify images of handwritten digits, accuracy at least 85%, under 5,000 parameters"


def write_digits(folder: Path, per_class: int | None = None) -> Path:
    """Digits as 8x8 grayscale PNGs in one folder per class, plus a corrupt PNG and a text file."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    seen: dict[int, int] = {}
    for i, (img, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        if per_class is not None and seen.get(int(target), 0) >= per_class:
            continue
        seen[int(target)] = seen.get(int(target), 0) + 1
        (folder / str(target)).mkdir(parents=True, exist_ok=True)
        pixels = (img * 255 / 16).round().astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / str(target) / f"{i:04d}.png")
    (folder / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (folder / "3" / "notes.txt").write_text("scanned in 1998\n")
    return folder


def digits_spec(requirements: list[Requirement] | None = None, label: str = "label") -> TaskSpec:
    return TaskSpec(
        request=REQUEST,
        task_type=TaskType.IMAGE_CLASSIFICATION,
        label_column=label,
        feature_columns=["image"],
        requirements=requirements
        or [
            Requirement(name="accuracy", op=">=", target=0.85),
            Requirement(name="params", op="<", target=5000),
        ],
    )


def png_base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits(tmp_path_factory.mktemp("digits") / "digits")


@pytest.fixture(scope="module")
def trained(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The data stage, training and export on all the digits, under 5,000 parameters."""
    from trainer_agent.skills.data.data_stage import run_data_stage
    from trainer_agent.skills.export.export import export_onnx
    from trainer_agent.skills.model.train import train_model

    run = tmp_path_factory.mktemp("run")
    spec = digits_spec()
    data = run_data_stage(spec, digits_dir, None, run)
    lines: list[str] = []
    result = train_model(spec, data, run, progress=lines.append)
    export = export_onnx(spec, data, result, run, quantize=False, tensorrt=None)
    return {"run": run, "spec": spec, "data": data, "result": result, "export": export, "lines": lines}


def test_folder_is_copied_deduped_split_and_corrupt_files_counted(trained: dict) -> None:
    data, run = trained["data"], trained["run"]
    assert data.n_train + data.n_test == 1797 and data.feature_columns == ["image"]
    assert data.test_from == "split" and len(data.label_counts) == 10
    notes = " ".join(data.notes)
    assert "skipped 1 image file(s) that could not be read: broken.png" in notes
    assert "ignored 1 file(s)" in notes
    train = pd.read_csv(data.train_path)
    assert list(train.columns[:2]) == ["image", "label"]
    assert all((run / "data" / p).is_file() for p in train["image"])  # relative to data/, inside the run
    assert set(train["image"]).isdisjoint(pd.read_csv(data.test_path)["image"])
    profile = json.loads((run / "data" / "profile.json").read_text())
    assert profile["image_sizes"]["width_max"] == 8 and profile["label_counts"]["0"] > 100
    assert (run / "plots" / "image_samples.png").is_file()


def test_csv_of_paths_relative_to_the_csv(digits_dir: Path, tmp_path: Path) -> None:
    from trainer_agent.skills.data.image_data import prepare_images

    files = sorted(f for f in digits_dir.glob("[0-9]/*.png") if f.name != "broken.png")[::9]
    rows = [{"path": f"digits/{f.parent.name}/{f.name}", "digit": f"d{f.parent.name}"} for f in files]
    rows.append({"path": rows[0]["path"], "digit": rows[0]["digit"]})  # the same image twice
    rows.append({"path": "digits/3/missing.png", "digit": "d3"})
    csv = digits_dir.parent / "digits.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    report = prepare_images(
        digits_spec(label="digit").model_copy(update={"feature_columns": ["path"]}), csv, None, tmp_path
    )
    assert report.n_train + report.n_test == len(files) and report.duplicate_rows == 1
    assert report.label_column == "digit" and "d0" in report.label_counts
    assert any("missing.png (missing)" in n for n in report.notes)
    assert (tmp_path / "data" / pd.read_csv(report.test_path)["image"][0]).is_file()


def test_no_decodable_image_or_empty_folder_is_one_sentence(tmp_path: Path) -> None:
    from trainer_agent.skills.data.data_io import load_table

    (tmp_path / "bad" / "cat").mkdir(parents=True)
    (tmp_path / "bad" / "cat" / "a.png").write_bytes(b"nope")
    (tmp_path / "bad" / "dog").mkdir()
    (tmp_path / "bad" / "dog" / "b.jpg").write_bytes(b"")
    with pytest.raises(UserError, match=r"none of the 2 image files in .* could be read"):
        load_table(tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="without class folders"):
        load_table(tmp_path / "empty")


def test_training_respects_the_parameter_limit_and_exports_with_parity(trained: dict) -> None:
    from trainer_agent.skills.export.export import onnx_param_count

    result, export = trained["result"], trained["export"]
    assert result.family == "pixels-logistic-regression"  # the CNN's estimate is over 5,000: filtered
    small_cnn = next(c for c in result.candidates if c["name"] == "small-cnn")
    assert small_cnn["status"] == "filtered" and "over the limit" in small_cnn["reason"]
    assert result.metrics["accuracy"] >= 0.85
    assert onnx_param_count(export.onnx_path) == result.params == 8 * 8 * 10 + 10 < 5000
    assert export.parity.label_agreement == 1.0 and export.parity.max_abs_diff < 1e-4
    assert export.parity.onnx_metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    info = json.loads((trained["run"] / "models" / "model.json").read_text())
    assert info["inputs"][0] | {} == {
        "name": "image",
        "column": "image",
        "kind": "image",
        "side": 8,
        "channels": 1,
    }


def test_small_cnn_exports_with_parity_and_exact_parameter_count(trained: dict) -> None:
    from trainer_agent.skills.data.image_data import load_arrays
    from trainer_agent.skills.export.export import onnx_param_count
    from trainer_agent.skills.export.image_onnx import image_to_onnx
    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.model.image_cnn import (
        cnn_params,
        count_net_params,
        fit_image_net,
        predict_proba_net,
    )
    from trainer_agent.skills.model.model_data import labels_of, read_csv

    data = trained["data"]
    pick = np.random.default_rng(0).permutation(data.n_train)[:600]  # the file is in class order
    x = load_arrays(data.train_path, "image", 8, 1)[pick]
    y = labels_of(TaskType.IMAGE_CLASSIFICATION, read_csv(data.train_path), "label")[pick]
    epochs: list[dict] = []
    net, config = fit_image_net(x, y, 8, 1, epochs=4, progress=epochs.append)
    assert len(epochs) == 4 and epochs[-1]["val_accuracy"] > 0.5
    assert count_net_params(net) == cnn_params(8, 1, 10, tuple(config.widths))
    info = {
        "task_type": "image_classification",
        "family": "small-cnn",
        "framework": "torch",
        "label_column": "label",
    }
    info["inputs"] = [{"name": "image", "column": "image", "kind": "image", "side": 8, "channels": 1}]
    path = trained["run"] / "cnn.onnx"
    path.write_bytes(image_to_onnx((net, config), info).SerializeToString())
    assert onnx_param_count(path) == count_net_params(net)
    x_test = load_arrays(data.test_path, "image", 8, 1)
    predictor = OnnxPredictor(path)
    labels, proba = predictor.run({"image": x_test})
    ref = predict_proba_net(net, config, x_test)
    assert np.abs(proba - ref).max() < 1e-4
    assert (labels == np.asarray(config.labels)[ref.argmax(axis=1)]).all()


def test_service_answers_a_base64_png_like_offline(trained: dict) -> None:
    from fastapi.testclient import TestClient
    from PIL import Image

    from trainer_agent.skills.export.onnx_predict import OnnxPredictor
    from trainer_agent.skills.serve.service_app import create_app

    data, path = trained["data"], trained["export"].onnx_path
    files = [Path(data.test_path).parent / p for p in pd.read_csv(data.test_path)["image"][:5]]
    offline = [p["label"] for p in OnnxPredictor(path).predict([png_base64(f) for f in files])]
    jpeg = io.BytesIO()
    Image.open(files[0]).resize((32, 32)).convert("RGB").save(jpeg, format="JPEG")  # other size and format
    with TestClient(create_app(path)) as client:
        r = client.post(
            "/predict",
            json={"inputs": [png_base64(f) for f in files[:4]] + [{"image": png_base64(files[4])}]},
        )
        assert r.status_code == 200, r.text
        assert [p["label"] for p in r.json()["predictions"]] == offline
        r = client.post("/predict", json={"inputs": [base64.b64encode(jpeg.getvalue()).decode()]})
        assert r.status_code == 200 and r.json()["predictions"][0]["label"] in trained["result"].labels
        bad = client.post(
            "/predict", json={"inputs": [png_base64(files[0]), base64.b64encode(b"text").decode()]}
        )
        assert bad.status_code == 422 and "Input 1 not a readable image" in bad.json()["detail"]
        assert (
            client.post("/predict", json={"inputs": ["%%%"]})
            .json()["detail"]
            .startswith("Input 0 is not base64")
        )
        assert "base64" in client.get("/openapi.json").json()["info"]["description"]


def test_cli_trains_serves_and_reports_on_a_digits_folder(tmp_path: Path) -> None:
    folder = write_digits(tmp_path / "digits", per_class=40)
    out = tmp_path / "runs"
    result = run_cli(
        "run",
        REQUEST.replace("5,000", "1M"),
        "--data",
        str(folder),
        "--budget-min",
        "0.25",
        "--sandbox",
        "local",
        "--approve",
        "auto",
        "--out",
        str(out),
        "--json",
    )
    assert result.code == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["task_type"] == "image_classification" and report["decision"] == "accept"
    assert {r["name"] for r in report["requirements"]} == {"accuracy", "params"}
    assert all(r["met"] is True for r in report["requirements"])
    assert report["service"]["smoke"]["ok"] is True
    run = Path(report["run_dir"])
    assert (run / "report.json").is_file() and "import base64" in (run / "service" / "API.md").read_text()


def test_cli_on_unreadable_images_says_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "pics" / "cat").mkdir(parents=True)
    (tmp_path / "pics" / "cat" / "a.png").write_bytes(b"nope")
    result = run_cli(
        "run", "Classify photos of cats", "--data", str(tmp_path / "pics"), "--out", str(tmp_path)
    )
    assert result.code == 1
    assert "could be read" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
