"""The loadbalancer service's routers; the routing table fits on one screen.

=============================  =============================  ============================
subject                        handler                        use case
=============================  =============================  ============================
``cmd.pool.add``               ``commands.on_add``            ``Membership.add``
``cmd.pool.drain``             ``commands.on_drain``          ``Membership.drain``
``cmd.pool.cancel_drain``      ``commands.on_cancel``         ``Membership.cancel_drain``
``cmd.pool.remove``            ``commands.on_remove``         ``Membership.remove``
``query.pool.pools``           ``queries.pools``              ``PoolReader.pools``
``query.pool.virtual_servers`` ``queries.virtual_servers``    ``PoolReader.virtual_servers``
``query.pool.members``         ``queries.members``            ``PoolReader.members``
=============================  =============================  ============================
"""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.loadbalancer.handlers.commands import command_router
from services.loadbalancer.handlers.queries import query_router
from services.loadbalancer.membership import Membership
from shared.bus import Bus

__all__ = ["build_routers"]


def build_routers(bus: Bus, membership: Membership) -> list[NatsRouter]:
    """Every router of the service, bound to ``bus``'s topology."""
    return [command_router(bus, membership), query_router(bus, membership.driver)]
