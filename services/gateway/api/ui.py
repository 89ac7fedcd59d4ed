"""The operator web UI: static files served by the gateway itself (no CDN, no third-party code)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["WEB_DIR", "mount_ui"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def mount_ui(app: FastAPI) -> None:
    """``/`` → ``/ui/``; ``/ui/`` is the single page; ``/ui/assets/*`` its scripts and styles."""

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/ui/assets", StaticFiles(directory=WEB_DIR), name="ui-assets")
