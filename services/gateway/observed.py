"""One HTTP request observed from the outside, for the access log and the request metrics.

Pure ASGI, so server-sent event streams pass through untouched: a request ends (and is
reported) when its last body chunk has gone, however it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["observed", "route_of"]


async def observed(
    app: Any, scope: dict[str, Any], receive: Any, send: Any, done: Callable[[int, float], None]
) -> None:
    """Run ``app`` for the request, then call ``done(status, seconds)`` — also when it raised
    (status 500 when no response had started)."""
    started = time.perf_counter()
    status = 500

    async def send_wrapper(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, send_wrapper)
    finally:
        done(status, time.perf_counter() - started)


def route_of(scope: dict[str, Any]) -> str:
    """The matched route's path template (Starlette leaves the route in the scope), else ``other``:
    never the raw path, which may carry a token or a name typed by mistake."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "other"
