"""The scaler's use cases wired together over its ports (built by ``app.py`` and by tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.scaler.activities import Activities, EngineConfig
from services.scaler.callbacks import InstanceCallbacks
from services.scaler.decisions import DecisionConfig, Decisions
from services.scaler.drift import DriftWatch
from services.scaler.groups import ExistingVms, GroupAdmin
from services.scaler.orphans import OrphanSweeper, TaggedVms
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import (
    AddressProbe,
    CommandPublisher,
    GroupLease,
    HealthProbe,
    LifecycleHook,
    MetricsQuery,
    PoolReader,
    ResourceChecker,
    Store,
)
from services.scaler.preview import Preview
from services.scaler.reconcile import ReconcileConfig, Reconciler, VmPresence
from services.scaler.triggers import Triggers
from services.scaler.views import Views
from shared.clock import Clock
from shared.errors import VmscaleError
from shared.loops import every
from shared.singleton import Leases, Singleton
from shared.telemetry import get_logger

__all__ = ["Ports", "Scaler"]

log = get_logger(__name__)


@dataclass
class Ports:
    """Everything the scaler talks to."""

    store: Store
    lease: GroupLease
    metrics: MetricsQuery
    probe: HealthProbe
    hooks: LifecycleHook
    checker: ResourceChecker
    publisher: CommandPublisher
    clock: Clock
    addresses: AddressProbe | None = None
    pools: PoolReader | None = None
    existing_vms: ExistingVms | None = None
    tagged_vms: TaggedVms | None = None
    presence: VmPresence | None = None


class Scaler:
    """The scaler service's use cases and its background loops."""

    def __init__(
        self,
        ports: Ports,
        *,
        owner: str,
        webhook_base: str = "http://127.0.0.1:8000",
        engine: EngineConfig | None = None,
        evaluation_interval_s: float = 15.0,
        reconcile: ReconcileConfig | None = None,
    ) -> None:
        self.ports = ports
        self.owner = owner
        self.relay = OutboxRelay(ports.store, ports.publisher, ports.clock)
        config = engine or EngineConfig(owner=owner)
        self.activities = Activities(
            ports.store, ports.lease, ports.probe, ports.hooks, self.relay, ports.clock, config
        )
        self.decisions = Decisions(
            ports.store,
            ports.lease,
            ports.metrics,
            self.activities,
            self.relay,
            ports.clock,
            DecisionConfig(owner=owner, lease_ttl_s=config.lease_ttl_s, evaluation_interval_s=evaluation_interval_s),
            ports.addresses,
        )
        self.triggers = Triggers(ports.store, self.decisions, ports.clock, evaluation_interval_s)
        self.admin = GroupAdmin(ports.store, ports.checker, self.relay, ports.clock, webhook_base, ports.existing_vms)
        self.reconciler = Reconciler(
            ports.store,
            self.decisions,
            self.admin,
            self.relay,
            ports.clock,
            reconcile or ReconcileConfig(),
            presence=ports.presence,
            existing_vms=ports.existing_vms,
            metrics=ports.metrics,
        )
        self.callbacks = InstanceCallbacks(ports.store, self.relay, ports.clock)
        self.views = Views(ports.store, ports.metrics, ports.clock, ports.pools)
        self.drift = DriftWatch(ports.store, self.relay, ports.clock)
        self.preview = Preview(ports.store, ports.metrics, ports.checker, ports.clock, evaluation_interval_s)
        self.orphans = OrphanSweeper(ports.store, ports.tagged_vms, self.relay) if ports.tagged_vms else None
        self._loops: list[asyncio.Task[None]] = []

    async def tick(self) -> None:
        """One round of all background work, in order (what tests and the simulation drive):
        activities (resume, time-outs), reconciliation (adoption, lost VMs, silences), then the
        evaluations. The running service runs the reconciliation in a loop of its own, so a
        slow inventory never holds up decisions."""
        await self.activities.tick()
        await self.reconciler.tick()
        await self.triggers.tick()
        await self.relay.flush()

    async def _control(self) -> None:
        await self.activities.tick()
        await self.triggers.tick()
        await self.relay.flush()

    async def start(
        self,
        tick_s: float = 1.0,
        orphan_sweep_s: float = 60.0,
        *,
        leases: Leases | None = None,
        lease_ttl_s: float = 15.0,
    ) -> None:
        """Resume unfinished activities at once, then tick, relay and sweep in the background.

        Every replica ticks: each group's decisions and activities are fenced by the group lease
        (``GroupLease``). With ``leases`` the reconciliation and the orphan sweep run on one
        replica at a time (singleton leases ``reconciliation`` and ``orphan-sweep``,
        ``lease_ttl_s``; ``shared/singleton.py``): each pass first checks that its replica still
        holds the lease, and a lost renewal stops the loop at once.
        """
        with contextlib.suppress(VmscaleError):
            await self.activities.tick()

        def singleton(interval_s: float, work: Callable[[], Awaitable[object]], name: str, *, wait_first: bool) -> Any:
            if leases is None:
                return every(interval_s, work, name=name, log=log, wait_first=wait_first)
            lease = Singleton(leases, name.replace(" ", "-"), self.owner, lease_ttl_s, log=log)
            return lease.every(interval_s, work, name=name, log=log, wait_first=wait_first)

        self._loops = [
            asyncio.create_task(every(tick_s, self._control, name="tick", log=log)),
            asyncio.create_task(singleton(tick_s, self.reconciler.tick, "reconciliation", wait_first=False)),
            asyncio.create_task(self.relay.run(interval_s=max(tick_s, 0.5))),
        ]
        if self.orphans is not None:
            sweeps = singleton(orphan_sweep_s, self.orphans.sweep, "orphan sweep", wait_first=True)
            self._loops.append(asyncio.create_task(sweeps))

    async def stop(self) -> None:
        """Stop the loops and local steps; unfinished work stays in the database."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()
        await self.activities.close()
