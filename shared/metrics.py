"""vmscale's own Prometheus metrics: the conventions, the families every service has, helpers.

Conventions (Prometheus' naming guide): every name starts with ``vmscale_``; units are base units
written in the name (``_seconds``); counters end in ``_total`` (``prometheus_client`` appends it
to the name given here); latencies and durations are histograms. Label values come from bounded
sets only: subjects of the contract (``shared.bus.subject_label``), enum values, service and
health-check names, group and pool names (an operator creates a handful). Never VM names,
addresses, ids, users or free text: those go to events and logs, not to time series.

Every family lives in a registry the service owns (``ServiceRuntime.registry``), never in
``prometheus_client``'s global one, so tests and two services in one process never collide.

Families of every service (``ServiceMetrics`` here, ``BusMetrics`` for the bus)::

    vmscale_service_up{service}                      gauge    1 while the service runs
    vmscale_service_start_time_seconds{service}      gauge    Unix time the service started
    vmscale_dependency_up{service,dependency}        gauge    1/0 per health check (the system
                                                              status: NATS, database, Redis,
                                                              vCenter, Prometheus, F5 …)
    vmscale_bus_published_total{subject}             counter  messages published
    vmscale_bus_publish_errors_total{subject,error}  counter  publishes that failed (timeout, unavailable)
    vmscale_bus_consume_errors_total{subject,outcome} counter handler failures (retried, dead_lettered)
    vmscale_dead_letters_total{subject}              counter  messages this process dead-lettered

Each service adds its own in ``services/<name>/metrics.py``; ``docs/observability.md`` lists them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = [
    "DURATION_BUCKETS",
    "LATENCY_BUCKETS",
    "BusMetrics",
    "ConsumeOutcome",
    "ServiceMetrics",
    "bounded",
    "gauge_function",
]

LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Buckets for request and decision latencies (milliseconds to half a minute)."""

DURATION_BUCKETS: tuple[float, ...] = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Buckets for activity and step durations (a second to an hour: a clone takes minutes)."""


class ConsumeOutcome(StrEnum):
    """What became of a message whose handler failed."""

    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"


def bounded(value: str, allowed: frozenset[str] | Mapping[str, object], other: str = "other") -> str:
    """``value`` when it is one of ``allowed``, else ``other``: a label can never grow unbounded."""
    return value if value in allowed else other


def gauge_function(
    registry: CollectorRegistry, name: str, documentation: str, read: Callable[[], float | None]
) -> Gauge:
    """An unlabelled gauge whose value is ``read()`` at each scrape (NaN while it returns None).

    ``read`` runs in the scraping thread: it must only read plain attributes, never do IO.
    """
    gauge = Gauge(name, documentation, registry=registry)

    def value() -> float:
        result = read()
        return math.nan if result is None else float(result)

    gauge.set_function(value)
    return gauge


class BusMetrics:
    """The bus's families (module docstring), in the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "vmscale_bus_published", "Messages published on the bus, by subject", ["subject"], registry=registry
        )
        self.publish_errors = Counter(
            "vmscale_bus_publish_errors",
            "Publishes that failed, by subject and error (timeout, unavailable)",
            ["subject", "error"],
            registry=registry,
        )
        self.consume_errors = Counter(
            "vmscale_bus_consume_errors",
            "Messages whose handler failed, by subject and what became of them (retried, dead_lettered)",
            ["subject", "outcome"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "vmscale_dead_letters",
            "Messages this process dead-lettered, by original subject",
            ["subject"],
            registry=registry,
        )


class ServiceMetrics:
    """The process families every service has (module docstring)."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.up = Gauge("vmscale_service_up", "1 while the service runs", ["service"], registry=registry)
        self.start_time = Gauge(
            "vmscale_service_start_time_seconds",
            "Unix time the service started",
            ["service"],
            registry=registry,
        )
        self.dependency_up = Gauge(
            "vmscale_dependency_up",
            "1 when the service's check of a dependency or external system passed, else 0",
            ["service", "dependency"],
            registry=registry,
        )

    def started(self, at_unix_s: float) -> None:
        """The service is up since ``at_unix_s``."""
        self.up.labels(self.service).set(1)
        self.start_time.labels(self.service).set(at_unix_s)

    def stopped(self) -> None:
        """The service stopped serving."""
        self.up.labels(self.service).set(0)

    def checked(self, results: Mapping[str, str]) -> None:
        """Record one round of health checks (``name → "ok"`` or what is wrong)."""
        for name, outcome in results.items():
            self.dependency_up.labels(self.service, name).set(1 if outcome == "ok" else 0)
