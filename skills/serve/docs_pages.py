"""The service's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with no CDN.

    app = FastAPI(docs_url=None, redoc_url=None, ...)
    add_docs_pages(app)   # GET /docs, /redoc and /docs/assets/<file>

FastAPI's own pages load Swagger UI and ReDoc from a public CDN (and ReDoc's fonts from Google),
so offline or behind a firewall they render a blank page. These pages load the same files from
the service itself, under /docs/assets/: the files of the `fastapi-offline` package (MIT), which
ships swagger-ui-dist's bundle and stylesheet and ReDoc's standalone bundle as package data.

The pages, their assets and /openapi.json need no API key, as /docs never did: a browser that
opens a page cannot send the X-API-Key header, and the documents hold no data (the examples in
them are synthetic, `skills.serve.examples`). Only /predict is protected.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime,
# and the handlers are defined inside add_docs_pages with locally imported types.
import html
from importlib.util import find_spec
from pathlib import Path
from typing import Any

ASSETS_PATH = "/docs/assets"
# file of the fastapi-offline package -> its media type (set here, not guessed from the
# machine's mimetypes table, which names JavaScript differently on different systems)
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
DOCS_SCRIPT = f"{ASSETS_PATH}/swagger-ui-bundle.js"  # what a deployment's smoke test fetches
DOCS_ROUTES = ("/docs", "/redoc", *(f"{ASSETS_PATH}/{name}" for name in ASSETS))
_CACHE = "public, max-age=86400"  # the files change only with the installed package


def assets_dir() -> Path:
    """The folder of the Swagger UI and ReDoc files (package data of `fastapi-offline`)."""

    # find_spec, not import: the folder is all that is needed from the package
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the package fastapi-offline (Swagger UI and ReDoc files for /docs) is not installed; "
            "reinstall trainer-agent"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def add_docs_pages(app: Any, title: str | None = None) -> None:
    """Add GET /docs, /redoc and their assets to `app` (a FastAPI app made with docs_url=None).

    The page titles are `title` (default: the app's), escaped for HTML.
    """
    from fastapi import Request
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import FileResponse, HTMLResponse

    folder = assets_dir()
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the docs assets {', '.join(missing)} are missing from {folder}")
    name = html.escape(title or app.title)

    def asset_url(request: Request, file: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{file}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{name} - Swagger UI",
            swagger_js_url=asset_url(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset_url(request, "swagger-ui.css"),
            swagger_favicon_url=asset_url(request, "favicon.png"),
            oauth2_redirect_url=None,
            # no badge that sends the schema to the public validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{name} - ReDoc",
            redoc_js_url=asset_url(request, "redoc.standalone.js"),
            redoc_favicon_url=asset_url(request, "favicon.png"),
            with_google_fonts=False,
        )

    def serve_asset(path: Path, media_type: str) -> Any:
        async def asset() -> FileResponse:
            return FileResponse(path, media_type=media_type, headers={"cache-control": _CACHE})

        return asset

    for file, media_type in ASSETS.items():
        app.get(f"{ASSETS_PATH}/{file}", include_in_schema=False)(serve_asset(folder / file, media_type))
