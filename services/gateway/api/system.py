"""Liveness, readiness, metrics and the AsyncAPI document."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from shared.asyncapi import build_asyncapi

__all__ = ["router"]

router = APIRouter(tags=["system"])


class ServiceReadiness(BaseModel):
    """One service as its heartbeats show it."""

    healthy: bool
    heartbeat_age_s: float | None
    instances: int
    pid: int | None
    problems: dict[str, str]
    degraded: bool


class Readiness(BaseModel):
    """The ``/readyz`` body, the same whether ready (200) or not (503)."""

    ready: bool
    version: str
    checks: dict[str, str]
    services: dict[str, ServiceReadiness]


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves HTTP."""
    return {"status": "alive"}


@router.get("/health", summary="The original's liveness check: status and timestamp")
async def health() -> dict[str, str]:
    """Always 200 while the process serves HTTP, in the original's shape (monitors keep working)."""
    now = datetime.now(UTC)
    return {"status": "ok", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"}


@router.get(
    "/readyz",
    summary="NATS, database, Redis and every service's heartbeat",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: a check failed or a service is silent"}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 when every dependency answers and all five services beat recently, else 503."""
    state = request.app.state.gateway
    body = Readiness.model_validate(await state.readiness())
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)


@router.get("/metrics", summary="Prometheus metrics of the gateway", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format; the dead letters stored are counted from the stream first."""
    state = request.app.state.gateway
    await state.refresh_dead_letter_gauge()
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/asyncapi.json", summary="AsyncAPI 3.0 document of every subject and message")
async def asyncapi_json() -> dict[str, Any]:
    """The contract of the NATS side, for teams that subscribe to vmscale's events."""
    return build_asyncapi()


@router.get("/api/asyncapi", response_class=HTMLResponse, include_in_schema=False)
async def asyncapi_html() -> HTMLResponse:
    """A readable, self-contained page of the AsyncAPI document (no external assets)."""
    document = build_asyncapi()
    rows = []
    for channel in document["channels"].values():
        kind = channel["description"].split(":", 1)[0]
        names = ", ".join(channel["messages"])
        rows.append(
            f"<tr><td><code>{html.escape(channel['address'])}</code></td><td>{html.escape(kind)}</td>"
            f"<td>{html.escape(names)}</td></tr>"
        )
    schemas = html.escape(json.dumps(document["components"]["schemas"], indent=2))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>vmscale AsyncAPI</title><style>body{{font-family:sans-serif;margin:2rem}}
td,th{{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}}</style></head>
<body><h1>vmscale — NATS subjects</h1><p>{html.escape(document["info"]["description"])}</p>
<p><a href="/api/asyncapi.json">AsyncAPI JSON</a></p>
<table><thead><tr><th>subject</th><th>kind</th><th>messages</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table><h2>Schemas</h2><pre>{schemas}</pre></body></html>"""
    return HTMLResponse(page)
