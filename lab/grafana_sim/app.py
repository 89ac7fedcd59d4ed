"""The Grafana simulator's HTTP layer (FastAPI), written from Grafana's HTTP API docs.

Every ``/api`` route except ``/api/health`` needs ``Authorization: Bearer <service-account
token>`` (or HTTP Basic for the admin user); anything else gets 401 ``{"message": ...}``.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lab.grafana_sim.store import ApiError, GrafanaState

__all__ = ["create_app"]


def _authorised(request: Request, tokens: frozenset[str], admin_password: str | None) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return any(hmac.compare_digest(value, token) for token in tokens)
    if scheme.lower() == "basic" and admin_password:
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return user == "admin" and hmac.compare_digest(password, admin_password)
    return False


def create_app(tokens: frozenset[str], admin_password: str | None = None, state: GrafanaState | None = None) -> FastAPI:
    """The simulator app over ``state``; ``tokens`` are the valid service-account tokens."""
    app = FastAPI(title="grafana-sim", docs_url=None, redoc_url=None, openapi_url=None)
    store = state or GrafanaState()
    app.state.grafana = store

    @app.middleware("http")
    async def auth(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/api/") and request.url.path != "/api/health":
            if not _authorised(request, tokens, admin_password):
                return JSONResponse({"message": "Unauthorized"}, status_code=401)
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.code)

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise ApiError(400, "bad request data") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "bad request data")
        return body

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"commit": "sim", "database": "ok", "version": "10.4.0-vmscale-sim"}

    @app.get("/api/folders")
    async def folders() -> list[dict[str, Any]]:
        return [{"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in store.folders.values()]

    @app.get("/api/folders/{uid}")
    async def folder(uid: str) -> dict[str, Any]:
        return store.folder(uid)

    @app.post("/api/folders")
    async def create_folder(request: Request) -> dict[str, Any]:
        return store.create_folder(await body_of(request))

    @app.delete("/api/folders/{uid}")
    async def delete_folder(uid: str) -> dict[str, Any]:
        return store.delete_folder(uid)

    @app.get("/api/datasources")
    async def datasources() -> list[dict[str, Any]]:
        return list(store.datasources.values())

    @app.get("/api/datasources/uid/{uid}")
    async def datasource_by_uid(uid: str) -> dict[str, Any]:
        return store.datasource(uid=uid)

    @app.get("/api/datasources/name/{name}")
    async def datasource_by_name(name: str) -> dict[str, Any]:
        return store.datasource(name=name)

    @app.post("/api/datasources")
    async def add_datasource(request: Request) -> dict[str, Any]:
        return store.add_datasource(await body_of(request))

    @app.post("/api/dashboards/db")
    async def save_dashboard(request: Request) -> dict[str, Any]:
        return store.save_dashboard(await body_of(request))

    @app.get("/api/dashboards/uid/{uid}")
    async def dashboard(uid: str) -> dict[str, Any]:
        return store.dashboard(uid)

    @app.delete("/api/dashboards/uid/{uid}")
    async def delete_dashboard(uid: str) -> dict[str, Any]:
        return store.delete_dashboard(uid)

    @app.get("/api/search")
    async def search(query: str = "") -> list[dict[str, Any]]:
        return store.search(query)

    @app.post("/api/annotations")
    async def add_annotation(request: Request) -> dict[str, Any]:
        return store.add_annotation(await body_of(request))

    @app.get("/api/annotations")
    async def annotations(request: Request, limit: int = 100, dashboardUID: str | None = None) -> list[dict[str, Any]]:
        return store.find_annotations(request.query_params.getlist("tags"), dashboardUID, limit)

    return app
