"""The scaler's ``CommandPublisher``, ``ResourceChecker``, ``PoolReader`` and ``VmPresence`` over the bus."""

from __future__ import annotations

import asyncio
from typing import Any

from services.scaler.domain.model import ScalingGroup
from services.scaler.ports import MetricsQuery
from shared import subjects
from shared.bus import Bus
from shared.errors import NotFound, RetryableError, ServiceUnavailable
from shared.messages import ListPoolMembers, ListPools, Message, TemplatesQuery, VmQuery
from shared.subjects import Subject

__all__ = ["BusPoolReader", "BusPublisher", "BusResourceChecker", "BusVmPresence"]


class BusPublisher:
    """``CommandPublisher`` over ``shared.bus.Bus`` (JetStream, ``Nats-Msg-Id`` = message id)."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        """Publish and wait for the stream's ack; errors as ``shared.errors``."""
        await self._bus.publish(subject, message)


class BusResourceChecker:
    """Asks Prometheus for the job, inventory for the template and the load balancer for the pool."""

    def __init__(self, bus: Bus, metrics: MetricsQuery, timeout_s: float = 5.0) -> None:
        self._bus = bus
        self._metrics = metrics
        self._timeout = timeout_s

    async def missing(self, group: ScalingGroup) -> list[str]:
        """One sentence per missing (or uncheckable) thing; empty when all exist."""
        out: list[str] = []
        try:
            if not await self._metrics.job_exists(group.prometheus_job):
                out.append(f"Prometheus job {group.prometheus_job!r} does not exist")
        except RetryableError as exc:
            out.append(f"cannot check Prometheus job {group.prometheus_job!r}: {exc}")
        try:
            reply = await self._bus.request(
                subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery(name_prefix=group.template), timeout=self._timeout
            )
            if reply.error:
                out.append(f"cannot check template {group.template!r}: {reply.error}")
            elif group.template not in {t.vm.name for t in reply.templates}:
                out.append(f"template {group.template!r} does not exist")
        except RetryableError as exc:
            out.append(f"cannot check template {group.template!r}: inventory did not answer ({exc})")
        try:
            pools = await self._bus.request(subjects.QUERY_POOL_POOLS, ListPools(), timeout=self._timeout)
            if pools.error:
                out.append(f"cannot check load-balancer pool {group.pool!r}: {pools.error}")
            elif group.pool not in {p.name for p in pools.pools}:
                out.append(f"load-balancer pool {group.pool!r} does not exist")
        except RetryableError as exc:
            out.append(f"cannot check load-balancer pool {group.pool!r}: load balancer did not answer ({exc})")
        return out


class BusPoolReader:
    """``PoolReader`` over ``query.pool.members`` (the load balancer service answers)."""

    def __init__(self, bus: Bus, timeout_s: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout_s

    async def members(self, pool: str) -> list[tuple[str, str]]:
        """``(name, address)`` of every member; see the port's contract."""
        reply = await self._bus.request(subjects.QUERY_POOL_MEMBERS, ListPoolMembers(pool=pool), timeout=self._timeout)
        if reply.error:
            raise NotFound(f"load-balancer pool {pool!r}: {reply.error}")
        return [(m.name, m.address) for m in reply.members]


class BusVmPresence:
    """``VmPresence`` over ``query.inventory.vm`` (the inventory's vCenter cache answers)."""

    def __init__(self, bus: Bus, timeout_s: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout_s

    async def __call__(self, names: list[str]) -> dict[str, str]:
        """The power state of each VM of ``names`` vCenter has; see ``reconcile.VmPresence``."""
        replies = await asyncio.gather(
            *(self._bus.request(subjects.QUERY_INVENTORY_VM, VmQuery(name=n), timeout=self._timeout) for n in names)
        )
        found: dict[str, str] = {}
        for name, reply in zip(names, replies, strict=True):
            if reply.error or reply.synced_at is None:
                raise ServiceUnavailable(f"inventory cannot vouch for VM {name!r}: {reply.error or 'not synced'}")
            if reply.vm is not None and not reply.vm.template:
                found[name] = str(reply.vm.power_state)
        return found
