"""The settings of the loadbalancer's background waits (polling, drain timeouts, the claims
replicas share) and the sink their results go to; ``membership`` runs the waits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.singleton import Leases
from shared.subjects import Subject

__all__ = ["EventSink", "Key", "Timings", "WaitClaims"]

Key = tuple[str, str]
"""A member: (pool, name)."""


class EventSink(Protocol):
    """Where events go (the bus in the service, a list in unit tests)."""

    async def publish(self, subject: Subject[Any], message: Any) -> None:
        """Publish ``message`` on ``subject``."""
        ...


@dataclass(frozen=True)
class Timings:
    """Polling intervals and drain timeouts."""

    health_poll_s: float = 1.0
    drain_poll_s: float = 2.0
    drain_timeout_s: float = 300.0
    drain_timeouts: Mapping[str, float] = field(default_factory=dict)

    def drain_timeout(self, pool: str) -> float:
        """The pool's drain timeout."""
        return float(self.drain_timeouts.get(pool, self.drain_timeout_s))


@dataclass(frozen=True)
class WaitClaims:
    """The claims on background waits this replica shares with the others (one store)."""

    leases: Leases
    owner: str
    ttl_s: float = 30.0

    @staticmethod
    def name(key: Key) -> str:
        """The claim's name for a member's wait (the pool's length keeps it unambiguous)."""
        return f"wait:{len(key[0])}:{key[0]}:{key[1]}"
