"""A server span around every HTTP request, continuing a W3C ``traceparent`` if one came in.

Messages published while handling the request carry the context on in NATS headers
(FastStream's telemetry middleware), so one trace spans gateway → scaler → inventory.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

__all__ = ["TracingMiddleware"]


class TracingMiddleware:
    """Pure ASGI middleware (no body buffering, so SSE streams pass through untouched)."""

    def __init__(self, app: Any, tracer_provider: TracerProvider) -> None:
        self.app = app
        self.tracer = tracer_provider.get_tracer("vmscale.gateway")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        parent = propagate.extract(carrier)
        route = scope.get("path", "")
        token = context.attach(parent)
        try:
            with self.tracer.start_as_current_span(f"{scope['method']} {route}", kind=SpanKind.SERVER) as span:
                span.set_attribute("http.request.method", scope["method"])
                span.set_attribute("url.path", route)
                status_holder: dict[str, int] = {}

                async def send_wrapper(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        status_holder["status"] = message["status"]
                        span.set_attribute("http.response.status_code", message["status"])
                    await send(message)

                await self.app(scope, receive, send_wrapper)
                if status_holder.get("status", 200) >= 500:
                    span.set_status(Status(StatusCode.ERROR))
        finally:
            context.detach(token)
