"""Which scaling groups exist and are enabled, as the scaler says (cached for a few seconds)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol

from shared import subjects
from shared.bus import Bus
from shared.errors import RetryableError
from shared.messages import GroupStatusQuery, GroupStatusReply

__all__ = ["BusGroupDirectory", "GroupDirectory", "GroupState"]


class GroupState(StrEnum):
    """What the webhook needs to know about a group."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"


class GroupDirectory(Protocol):
    """Looks a group up for the webhook."""

    async def state(self, group: str) -> GroupState:
        """The group's state; ``UNREACHABLE`` when the scaler cannot be asked and nothing is cached.

        Never raises: an unreachable scaler must not stop alerts from being queued.
        """
        ...


class BusGroupDirectory:
    """Asks ``query.scaler.group_status`` and caches each answer for ``ttl_s``.

    A stale answer is used when the scaler does not reply; with none, ``UNREACHABLE``.
    """

    def __init__(self, bus: Bus, ttl_s: float, timeout_s: float = 0.5) -> None:
        self._bus = bus
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._cache: dict[str, tuple[float, GroupState]] = {}

    async def state(self, group: str) -> GroupState:
        """The group's state (see the class docstring)."""
        now = time.monotonic()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self._ttl_s:
            return cached[1]
        try:
            reply: GroupStatusReply = await self._bus.request(
                subjects.QUERY_SCALER_GROUP_STATUS, GroupStatusQuery(group=group), timeout=self._timeout_s
            )
        except RetryableError:
            return cached[1] if cached else GroupState.UNREACHABLE
        if reply.error:
            return cached[1] if cached else GroupState.UNREACHABLE
        state = GroupState.UNKNOWN if not reply.exists else GroupState.ENABLED if reply.enabled else GroupState.DISABLED
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[group] = (now, state)
        return state

    def forget(self, group: str | None = None) -> None:
        """Drop cached answers (after the gateway itself changed a group)."""
        if group is None:
            self._cache.clear()
        else:
            self._cache.pop(group, None)
