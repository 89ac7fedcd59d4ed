"""The inventory service's routers; the routing table fits on one screen."""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.inventory.handlers.commands import build_command_router
from services.inventory.handlers.queries import build_query_router
from services.inventory.service import InventoryService
from shared.bus import Bus

__all__ = ["build_routers"]


def build_routers(bus: Bus, service: InventoryService) -> list[NatsRouter]:
    """Every router of the service, bound to ``bus``'s topology."""
    return [build_command_router(bus, service), build_query_router(bus, service)]
