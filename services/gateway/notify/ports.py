"""The stores the notifications keep their state in, shared by every gateway replica.

Replicas of the gateway take the notification events as one NATS queue group, so two copies of
an episode, or a flood, land on different replicas: what decides "sent before", "too many this
minute" and "pinned since" must be one state for all of them (Redis), and the record of every
delivery one table (the gateway's database), read by any replica and kept across restarts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.gateway.notify.model import Delivery, DeliveryOutcome

__all__ = ["DeliveryLog", "PinnedSpells", "SendLedger"]


class SendLedger(Protocol):
    """De-duplication keys and the per-channel rate limit, shared by every replica."""

    async def claim(
        self, channel: str, dedup_key: str, now: datetime, dedup_window_s: float, rate_per_min: int
    ) -> DeliveryOutcome | None:
        """Claim one send of ``dedup_key`` on ``channel`` at ``now``, atomically across replicas.

        ``DEDUPLICATED`` when the key was claimed on this channel less than ``dedup_window_s``
        before ``now``; else ``RATE_LIMITED`` when ``rate_per_min`` sends were claimed on this
        channel in the 60 s before ``now``; else None: the send and the key are recorded (a key
        refused as rate-limited is not, so a later copy may still go out). Of two concurrent
        claims of one key exactly one gets None. ``ServiceUnavailable`` when the store is down."""
        ...


class PinnedSpells(Protocol):
    """Since when each group has been blocked at its limit, shared by every replica."""

    async def since(self, group: str, reason: str, at: datetime) -> datetime:
        """The start of the group's spell of ``reason`` (``at_max``/``at_min``): the earliest
        ``at`` given since the spell last ended (``at`` when this one starts it).
        ``ServiceUnavailable`` when the store is down."""
        ...

    async def end(self, group: str) -> None:
        """End every spell of ``group`` (a decision that was not blocked at a limit)."""
        ...


class DeliveryLog(Protocol):
    """The record of every delivery (never a secret, never a URL). Blocking: call it in a thread.
    Errors leave as ``shared.errors`` (``ServiceUnavailable`` when the database is down)."""

    def append(self, delivery: Delivery) -> None:
        """Store one delivery (texts cut to the column sizes)."""
        ...

    def recent(
        self, limit: int = 100, channel: str | None = None, outcome: DeliveryOutcome | None = None
    ) -> list[Delivery]:
        """The newest ``limit`` deliveries, newest first, optionally of one channel and outcome."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete the deliveries recorded before ``before``; how many went."""
        ...
