"""A stand-in scaler on the bus, for the gateway's tests and UI tests.

It is a real subscriber on the test's subject prefix that keeps state (groups and the alerts it
received), not a mock: the gateway talks to it exactly as it talks to the scaler.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import AlertFired, AlertResolved, GroupStatusQuery, GroupStatusReply

__all__ = ["FakeScaler"]


@dataclass
class FakeScaler:
    """Answers ``query.scaler.group_status`` and records ``alert.*`` events it consumes."""

    groups: dict[str, bool] = field(default_factory=dict)
    fired: list[AlertFired] = field(default_factory=list)
    resolved: list[AlertResolved] = field(default_factory=list)
    status_queries: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def router(self, bus: Bus) -> NatsRouter:
        """A router with the fake's responders and consumers on ``bus``."""
        router = NatsRouter()

        @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
        async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
            self.status_queries += 1
            enabled = self.groups.get(query.group)
            return GroupStatusReply(group=query.group, exists=enabled is not None, enabled=bool(enabled))

        @bus.consumer(router, subjects.ALERT_FIRED, "scaler")
        async def on_fired(event: AlertFired) -> None:
            self.fired.append(event)
            self.arrived.set()

        @bus.consumer(router, subjects.ALERT_RESOLVED, "scaler")
        async def on_resolved(event: AlertResolved) -> None:
            self.resolved.append(event)
            self.arrived.set()

        return router
