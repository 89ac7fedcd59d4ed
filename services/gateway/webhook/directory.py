"""Which scaling groups exist and are enabled, as the scaler says (cached for a few seconds)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol

from services.gateway.clients import ScalerClient
from shared.errors import VmscaleError

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
    """Asks the scaler for a group's status (``query.scaler.group_status``) and caches each
    answer for ``ttl_s``.

    A stale answer is used when the scaler does not reply or replies with an error; with none,
    ``UNREACHABLE``. Give it a client with a short timeout: the webhook waits for the answer.
    """

    def __init__(self, scaler: ScalerClient, ttl_s: float) -> None:
        self._scaler = scaler
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, GroupState]] = {}

    async def state(self, group: str) -> GroupState:
        """The group's state (see the class docstring)."""
        now = time.monotonic()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self._ttl_s:
            return cached[1]
        try:
            reply = await self._scaler.group_status(group)
        except VmscaleError:
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
