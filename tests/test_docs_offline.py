"""/docs and /redoc of a real service on 127.0.0.1 load nothing from outside the service.

Every URL the pages reference is the service's own, and each answers 200 with the right content
type: Swagger UI and ReDoc render offline and behind a firewall. The pages and their assets need
no API key (a browser cannot send one when it opens a page); /predict still does.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest_models import trained
from trainer_agent.skills.serve.deploy import start_service, stop_service
from trainer_agent.skills.serve.docs_pages import ASSETS, DOCS_ROUTES

_URL = re.compile(r"""https?://[^\s"'<>)]+""")
_REFERENCES = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl:\s*'([^']+)'""")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("docs_service")
    deployment = start_service(
        trained("fine_foods", export=True).export.onnx_path, run_dir, timeout=60, api_key="s3cret"
    )
    try:
        yield deployment.url
    finally:
        stop_service(run_dir)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_the_service(service, page):
    with httpx.Client(base_url=service, timeout=10.0) as client:
        r = client.get(page)  # no API key
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        outside = [u for u in _URL.findall(r.text) if not u.startswith(service)]
        assert outside == [], f"{page} loads from outside the service: {outside}"
        refs = [a or b for a, b in _REFERENCES.findall(r.text)]
        scripts = [ref for ref in refs if ref.endswith(".js")]
        assert scripts and any(ref.endswith(".css") for ref in refs) == (page == "/docs")
        assert any(ref.endswith("openapi.json") for ref in refs)
        for ref in refs:
            asset = client.get(ref)
            suffix = ref[ref.rindex(".") :]
            assert asset.status_code == 200, (ref, asset.status_code)
            assert asset.headers["content-type"].startswith(_TYPES[suffix]), (ref, asset.headers)
            assert len(asset.content) > (1000 if suffix != ".png" else 100)
        assert client.post("/predict", json={"inputs": ["great food"]}).status_code == 401


def test_the_scripts_are_swagger_ui_and_redoc(service):
    with httpx.Client(base_url=service, timeout=10.0) as client:
        swagger = client.get("/docs/assets/swagger-ui-bundle.js").text
        redoc = client.get("/docs/assets/redoc.standalone.js").text
        metrics = client.get("/metrics").text
    assert "SwaggerUIBundle" in swagger and "Redoc" in redoc
    assert set(ASSETS) <= {route.rsplit("/", 1)[-1] for route in DOCS_ROUTES}
    # the assets are counted under their own paths, not lumped into "other"
    counted = 'trainer_agent_requests_total{endpoint="/docs/assets/swagger-ui-bundle.js",status="200"}'
    assert counted in metrics
