"""service/API.md and openapi.json, from the app's own schema and a real answer of the app."""

from __future__ import annotations

import json
import shlex

from fastapi.testclient import TestClient

from tests.conftest_models import trained
from trainer_agent.skills.serve.api_docs import write_api_docs
from trainer_agent.skills.serve.service_app import create_app


def test_api_docs_from_the_app(tmp_path):
    app = create_app(trained("wine_mixed", export=True).export.onnx_path)
    client = TestClient(app)
    example = {"alcohol": 13.2, "cellar": "o'brien", "proline": None}  # a quote to escape for bash
    response = client.post("/predict", json={"inputs": [example]}).json()
    error = client.post("/predict", json={"inputs": [{"alcohol": "x"}]}).json()
    perf = {
        "capacity": {
            "levels": [{"concurrency": 1, "qps": 200.0, "p50_ms": 2.0, "p95_ms": 5.0, "errors": 0}],
            "memory_mb": 90.0,
        },
        "load_test": {"offered_qps": 50, "seconds": 30, "achieved_qps": 49.9, "p50_ms": 2.1, "p95_ms": 6.0,
                      "p99_ms": 9.0, "errors": 0},
        "estimate_error": {"qps_error": -0.002, "p95_error": 0.2},
    }  # fmt: skip
    paths = write_api_docs(tmp_path, app.openapi(), "http://127.0.0.1:8000", example, response, perf, error)
    saved = json.loads((tmp_path / "openapi.json").read_text())
    assert saved == app.openapi() and paths["openapi"] == str(tmp_path / "openapi.json")
    md = (tmp_path / "API.md").read_text()
    assert md.startswith(f"# Tabular classification model ({app.state.predictor.info['family']}) — API")
    assert f"Version {app.version}" in md and "`cellar` (text)" in md
    # the curl example is valid shell whose -d argument is the JSON body
    curl = md[md.index("curl -s") : md.index("```", md.index("curl -s"))].replace("\\\n", " ")
    args = shlex.split(curl)
    assert json.loads(args[args.index("-d") + 1]) == {"inputs": [example]}
    assert "'alcohol' must be a number" in md  # the real 422
    assert '"label": "' + response["predictions"][0]["label"] + '"' in md
    assert "| 1 | 200.00 | 2.00 | 5.00 | 0 |" in md and "Peak memory of the serving process: 90.00 MiB" in md
    assert "achieved 49.90 QPS" in md and "Estimate error: achieved QPS -0.2% of the rate offered" in md
