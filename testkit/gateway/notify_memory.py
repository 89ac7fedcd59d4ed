"""In-memory fakes of the notifications' stores (``services.gateway.notify.ports``): one
process's state, the same answers as the Redis and SQL adapters (``tests/contracts/gateway_notify.py``)."""

from __future__ import annotations

from datetime import datetime

from services.gateway.notify.model import Delivery, DeliveryOutcome
from services.gateway.notify.service import NotifyStores

__all__ = ["MemoryDeliveryLog", "MemoryPinnedSpells", "MemorySendLedger", "memory_notify_stores"]


class MemorySendLedger:
    """``SendLedger`` in memory."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], datetime] = {}
        self._sends: dict[str, list[datetime]] = {}

    async def claim(
        self, channel: str, dedup_key: str, now: datetime, dedup_window_s: float, rate_per_min: int
    ) -> DeliveryOutcome | None:
        """See ``SendLedger.claim``."""
        last = self._keys.get((channel, dedup_key))
        if dedup_window_s > 0 and last is not None and (now - last).total_seconds() < dedup_window_s:
            return DeliveryOutcome.DEDUPLICATED
        sends = [at for at in self._sends.get(channel, []) if (now - at).total_seconds() < 60.0]
        self._sends[channel] = sends
        if len(sends) >= rate_per_min:
            return DeliveryOutcome.RATE_LIMITED
        sends.append(now)
        if dedup_window_s > 0:
            self._keys[(channel, dedup_key)] = now
        return None


class MemoryPinnedSpells:
    """``PinnedSpells`` in memory."""

    def __init__(self) -> None:
        self._since: dict[str, dict[str, datetime]] = {}

    async def since(self, group: str, reason: str, at: datetime) -> datetime:
        """See ``PinnedSpells.since``."""
        spells = self._since.setdefault(group, {})
        current = spells.get(reason)
        if current is None or at < current:
            spells[reason] = current = at
        return current

    async def end(self, group: str) -> None:
        """See ``PinnedSpells.end``."""
        self._since.pop(group, None)


class MemoryDeliveryLog:
    """``DeliveryLog`` in memory."""

    def __init__(self) -> None:
        self.rows: list[Delivery] = []

    def append(self, delivery: Delivery) -> None:
        """See ``DeliveryLog.append``."""
        self.rows.append(delivery)

    def recent(
        self, limit: int = 100, channel: str | None = None, outcome: DeliveryOutcome | None = None
    ) -> list[Delivery]:
        """See ``DeliveryLog.recent``."""
        order = sorted(enumerate(self.rows), key=lambda item: (item[1].at, item[0]), reverse=True)
        found = [
            d
            for _, d in order
            if (channel is None or d.channel == channel) and (outcome is None or d.outcome == outcome)
        ]
        return found[:limit]

    def purge(self, before: datetime) -> int:
        """See ``DeliveryLog.purge``."""
        kept = [d for d in self.rows if d.at >= before]
        gone = len(self.rows) - len(kept)
        self.rows = kept
        return gone


def memory_notify_stores() -> NotifyStores:
    """A fresh set of the three in-memory stores."""
    return NotifyStores(MemorySendLedger(), MemoryPinnedSpells(), MemoryDeliveryLog())
