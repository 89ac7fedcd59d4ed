"""``/docs``: Swagger UI from the ``swagger-ui-bundle`` package, served locally (no CDN)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_docs"]

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vmscale API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""

_INIT = """window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, presets: [SwaggerUIBundle.presets.apis]});"""


def mount_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/docs/init.js`` and the Swagger UI assets."""
    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_PAGE)

    @app.get("/docs/init.js", include_in_schema=False)
    async def init() -> Response:
        return Response(_INIT, media_type="text/javascript")

    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")
