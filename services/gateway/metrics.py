"""The gateway's own metrics: HTTP requests, the webhook's alerts, services' heartbeats.

Families (labels are bounded: route templates, methods, status codes, enum values)::

    vmscale_gateway_http_requests_total{method,route,status}    counter
    vmscale_gateway_http_request_duration_seconds{method,route}  histogram
    vmscale_gateway_webhook_total{outcome}                 counter   notifications by outcome
    vmscale_gateway_webhook_truncated_alerts_total         counter   alerts Alertmanager left out
    vmscale_alerts_received_total{status}                  counter   alerts in accepted notifications
                                                                     (firing, resolved)
    vmscale_alerts_deduplicated_total                      counter   episodes seen before (not republished)
    vmscale_alerts_rejected_total{reason}                  counter   notifications refused (unauthorized,
                                                                     unknown_group, disabled_group,
                                                                     invalid, too_large, rate_limited,
                                                                     unavailable)
    vmscale_dead_letters_stored{subject}                   gauge     read from the DLQ stream at each scrape
    vmscale_service_heartbeat_age_seconds{service}         gauge     since the newest heartbeat
    vmscale_service_healthy{service}                       gauge     1 while an instance beats, healthy

The route label is the path template (``/api/v1/groups/{name}``), never the path itself; a request
that matched no route is ``other``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.gateway.heartbeats import HeartbeatBoard, ServiceLiveness
from services.gateway.observed import observed, route_of
from shared.metrics import LATENCY_BUCKETS

__all__ = ["REJECTION_REASONS", "GatewayMetrics", "HttpMetricsMiddleware"]

REJECTION_REASONS = frozenset(
    {"unauthorized", "unknown_group", "disabled_group", "invalid", "too_large", "rate_limited", "unavailable", "other"}
)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _HeartbeatCollector(Collector):
    """Heartbeat age and health per service, read from the board at each scrape."""

    def __init__(self, board: HeartbeatBoard) -> None:
        self._board = board

    def _liveness(self) -> list[ServiceLiveness]:
        # The threaded metrics server may read while the event loop records a beat: a dict
        # that changed size mid-iteration is read again.
        for _ in range(3):
            try:
                return self._board.liveness()
            except RuntimeError:
                continue
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        age = GaugeMetricFamily(
            "vmscale_service_heartbeat_age_seconds", "Seconds since the service's newest heartbeat", labels=["service"]
        )
        healthy = GaugeMetricFamily(
            "vmscale_service_healthy",
            "1 while an instance of the service beats recently and says it is healthy",
            labels=["service"],
        )
        for item in self._liveness():
            if item.age_s is not None:
                age.add_metric([item.service], item.age_s)
            healthy.add_metric([item.service], 1.0 if item.healthy else 0.0)
        yield age
        yield healthy


class GatewayMetrics:
    """The gateway's families (module docstring) in ``registry``."""

    def __init__(self, registry: CollectorRegistry, board: HeartbeatBoard) -> None:
        self.requests = Counter(
            "vmscale_gateway_http_requests",
            "HTTP requests served, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "vmscale_gateway_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the body), by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.webhook_outcomes = Counter(
            "vmscale_gateway_webhook", "Webhook notifications by outcome", ["outcome"], registry=registry
        )
        self.truncated_alerts = Counter(
            "vmscale_gateway_webhook_truncated_alerts", "Alerts left out (max_alerts)", registry=registry
        )
        self.alerts_received = Counter(
            "vmscale_alerts_received",
            "Alerts in notifications the webhook accepted, by status (firing, resolved)",
            ["status"],
            registry=registry,
        )
        self.alerts_deduplicated = Counter(
            "vmscale_alerts_deduplicated",
            "Alert episodes received again and not republished",
            registry=registry,
        )
        self.alerts_rejected = Counter(
            "vmscale_alerts_rejected",
            "Webhook notifications refused, by reason",
            ["reason"],
            registry=registry,
        )
        self.dead_letters_stored = Gauge(
            "vmscale_dead_letters_stored",
            "Dead letters in the DLQ stream now, by original subject (read from the stream at each scrape)",
            ["subject"],
            registry=registry,
        )
        registry.register(_HeartbeatCollector(board))

    def rejected(self, reason: str) -> None:
        """A notification was refused for ``reason`` (one of ``REJECTION_REASONS``)."""
        self.alerts_rejected.labels(reason if reason in REJECTION_REASONS else "other").inc()


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by route template (pure ASGI: SSE passes untouched).

    The duration runs to the last body chunk, so a long-lived event stream counts once, when it
    ends; its route is what operators filter out of latency panels.
    """

    def __init__(self, app: Any, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def done(status: int, seconds: float) -> None:
            route = route_of(scope)
            method = scope.get("method", "")
            method = method if method in _METHODS else "OTHER"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_duration.labels(method, route).observe(seconds)

        await observed(self.app, scope, receive, send, done)
