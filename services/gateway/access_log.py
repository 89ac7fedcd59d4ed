"""The gateway's access log: one line per request with the method, the route template (never the
raw path, which may carry a token or a VM name typed by mistake), the status, the duration and
who asked (the principal's name and how it authenticated). Never a header, a query string or a
body. Liveness and metrics scrapes are left out: they would drown everything else.

Pure ASGI, so server-sent event streams pass through untouched (their line comes when they end).
"""

from __future__ import annotations

from typing import Any

from services.gateway.observed import observed, route_of
from shared.telemetry import get_logger

__all__ = ["AccessLogMiddleware"]

log = get_logger("vmscale.access")

QUIET_PATHS = frozenset({"/healthz", "/health", "/metrics"})


class AccessLogMiddleware:
    """Logs each request as it ends (module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in QUIET_PATHS:
            await self.app(scope, receive, send)
            return

        def done(status: int, seconds: float) -> None:
            principal = (scope.get("state") or {}).get("principal")
            log.info(
                "request",
                method=scope.get("method", ""),
                route=route_of(scope),
                status=status,
                duration_ms=round(seconds * 1000, 2),
                user=getattr(principal, "name", None),
                via=getattr(principal, "via", None),
            )

        await observed(self.app, scope, receive, send, done)
