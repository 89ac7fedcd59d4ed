"""The gateway's access log: method, route template, status, duration and who — never the raw
path, a query string, a header or a token; liveness and metrics scrapes left out."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from structlog.testing import capture_logs

from services.gateway.access_log import AccessLogMiddleware
from services.gateway.auth.model import Principal, Role

TOKEN = "vms_" + "t" * 40


def app() -> FastAPI:
    application = FastAPI()

    @application.get("/api/v1/groups/{name}")
    async def group(name: str, request: Request) -> dict[str, str]:
        request.state.principal = Principal(name="alice", role=Role.VIEWER, via="api_key")
        return {"name": name}

    @application.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    application.add_middleware(AccessLogMiddleware)
    return application


async def test_a_request_is_logged_by_its_route_template_and_its_principal() -> None:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        with capture_logs() as lines:
            await client.get(f"/api/v1/groups/web?token={TOKEN}", headers={"Authorization": f"Bearer {TOKEN}"})
            await client.get("/no/such/web-20261207-0001")
            await client.get("/healthz")
    requests = [line for line in lines if line["event"] == "request"]
    assert [(r["method"], r["route"], r["status"], r["user"], r["via"]) for r in requests] == [
        ("GET", "/api/v1/groups/{name}", 200, "alice", "api_key"),
        ("GET", "other", 404, None, None),
    ]
    assert all(r["duration_ms"] >= 0 for r in requests)
    text = repr(lines)
    assert TOKEN not in text and "web-20261207-0001" not in text and "/api/v1/groups/web" not in text
