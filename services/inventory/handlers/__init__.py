"""The inventory service's routers; the routing table fits on one screen."""

from __future__ import annotations

from faststream.nats import NatsRouter

from shared.bus import Bus

__all__ = ["build_routers"]


def build_routers(bus: Bus) -> list[NatsRouter]:
    """Every router of the service, bound to ``bus``'s topology."""
    return []
