"""The scaler service's routers; the routing table fits on one screen.

==============================  ===========================================================
``alert.fired / .resolved``     ``alerts.py``  → ``Triggers.on_alert_fired / _resolved``
``vm.* monitoring.* pool.*``    ``replies.py`` → ``Activities.on_reply`` (+ alert provisioning
                                outcomes → ``GroupAdmin.on_monitoring_event``)
``query.scaler.*``              ``queries.py`` → ``Views`` / ``GroupAdmin`` / ``Triggers.manual``
``pool.updated / drift_detected`` ``pools.py`` → ``DriftWatch`` (group vs pool drift)
==============================  ===========================================================
"""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.scaler.handlers.alerts import alert_router
from services.scaler.handlers.pools import pool_router
from services.scaler.handlers.queries import query_router
from services.scaler.handlers.replies import reply_router
from services.scaler.metrics import ScalerMetrics
from services.scaler.service import Scaler
from shared.bus import Bus

__all__ = ["build_routers"]


def build_routers(
    bus: Bus, scaler: Scaler, *, alert_workers: int = 1, metrics: ScalerMetrics | None = None
) -> list[NatsRouter]:
    """Every router of the service, bound to ``bus``'s topology (``alert_workers``: how many
    ``alert.fired`` messages one replica decides at once; ``metrics`` gets decision latencies)."""
    return [
        alert_router(bus, scaler, alert_workers, metrics),
        reply_router(bus, scaler),
        query_router(bus, scaler),
        pool_router(bus, scaler),
    ]
