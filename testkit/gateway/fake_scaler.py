"""The scaler's stand-in on the bus, for the gateway's tests and UI tests.

Real subscribers on the test's subject prefix that keep state, not mocks: the gateway talks to
it exactly as it talks to the scaler. Group and IP-pool settings are validated by the scaler's
own code, so errors come back in its words and with its field paths; suspendable processes are
the scaler's ``Process``. Its responders are in ``testkit.gateway.fake_scaler_router``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream.nats import NatsRouter

from services.scaler.domain.model import IpLease, IpPool, LeaseState
from services.scaler.domain.saga import HOOK_STEPS, SCALE_IN_PLAN, SCALE_OUT_PLAN
from services.scaler.views import pool_view
from shared import subjects
from shared.bus import Bus
from shared.messages import (
    ActivityKind,
    ActivityStarted,
    ActivityView,
    AlertFired,
    AlertResolved,
    DecisionRecorded,
    DecisionView,
    GroupView,
    InstanceView,
    IpPoolView,
    Reply,
    StepView,
    utcnow,
)
from testkit.gateway.fake_scaler_router import scaler_router

__all__ = ["FakeScaler"]

R = TypeVar("R", bound=Reply)


@dataclass
class FakeScaler:
    """Groups, decisions and activities in memory; records the ``alert.*`` events it consumes.

    Every group starts with two protected base instances (``<group>-01``, ``<group>-02``, on
    loopback addresses); protect, unprotect and detach change them. IP pools live in
    ``ip_pools``; their leases are the addresses of the instances of the groups that use them.
    """

    groups: dict[str, bool] = field(default_factory=dict)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[DecisionView] = field(default_factory=list)
    activities: list[ActivityView] = field(default_factory=list)
    fired: list[AlertFired] = field(default_factory=list)
    resolved: list[AlertResolved] = field(default_factory=list)
    instances: dict[str, dict[str, InstanceView]] = field(default_factory=dict)
    ip_pools: dict[str, IpPool] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    """A group's size when it is not its ``min_size`` (a test's group below min or above max)."""
    status_queries: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _subnets: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in self.groups:
            self.members(name)

    def members(self, group: str) -> dict[str, InstanceView]:
        """The group's live instances (two base instances the first time an existing group is asked)."""
        if group not in self.instances and group in self.groups:
            octet = self._subnets.setdefault(group, 10 + len(self._subnets) % 240)
            now = utcnow()
            self.instances[group] = {
                f"{group}-{n:02d}": InstanceView(
                    group=group,
                    vm_name=f"{group}-{n:02d}",
                    address=f"127.0.{octet}.{10 + n}",
                    state="in_service",
                    protected=True,
                    base=True,
                    created_at=now,
                )
                for n in (1, 2)
            }
        return self.instances.get(group, {})

    def leases(self, pool: IpPool) -> list[IpLease]:
        """Addresses of the pool held by instances of the groups that use it."""
        now = utcnow()
        return [
            IpLease(
                pool=pool.name,
                address=ipaddress.IPv4Address(instance.address),
                group=group,
                vm_name=instance.vm_name,
                state=LeaseState.CONFIRMED,
                activity_id=instance.activity_id,
                updated_at=now,
            )
            for group in sorted(self.groups)
            if self.specs.get(group, {}).get("ip_pool") == pool.name
            for instance in self.members(group).values()
            if instance.address
            and any(r.start <= ipaddress.IPv4Address(instance.address) <= r.end for r in pool.ranges)
        ]

    def pool(self, name: str) -> IpPoolView:
        """One IP pool with its usage, shown as the scaler shows it."""
        pool = self.ip_pools[name]
        return pool_view(pool, self.leases(pool))

    def activity(self, activity_id: str) -> tuple[int, ActivityView] | None:
        """An activity and its index in ``activities``."""
        for n, found in enumerate(self.activities):
            if found.id == activity_id:
                return n, found
        return None

    def view(self, name: str) -> GroupView:
        """The group as the scaler would show it."""
        spec = self.specs.get(name, {"name": name, "min_size": 1, "max_size": 1})
        size = self.sizes.get(name, int(spec.get("min_size", 1)))
        return GroupView(
            name=name,
            enabled=self.groups.get(name, False),
            min_size=int(spec.get("min_size", 1)),
            max_size=int(spec.get("max_size", 1)),
            size=size,
            in_service=size,
            alerts_status="provisioned" if self.groups.get(name) else "none",
            suspended=tuple(sorted(spec.get("suspended", ()))),
            spec=spec,
            created_at=utcnow(),
        )

    def missing(self, name: str, reply: type[R]) -> R:
        """The reply the scaler gives for a group it does not have."""
        return reply(error=f"no scaling group {name!r}", error_kind="NotFound")

    def router(self, bus: Bus) -> NatsRouter:
        """A router with the fake's responders and consumers on ``bus``."""
        return scaler_router(self, bus)

    def blocked(self, group: str, message: str) -> DecisionView:
        """Record a manual request that changes nothing, as the scaler records it (``no_change``)."""
        decision = DecisionView(
            id=str(uuid.uuid4()),  # the scaler's decision ids are UUIDs, its event's message id
            group=group,
            at=utcnow(),
            allowed=False,
            reason="no_change",
            message=message,
            trigger="manual",
            rule="manual",
        )
        self.decisions.append(decision)
        return decision

    async def decide(self, bus: Bus, group: str, delta: int, trigger: str) -> DecisionView:
        """Record an allowed decision and a started activity, and publish both as events."""
        now = utcnow()
        activity_id = f"act-{uuid.uuid4().hex[:8]}"
        decision = DecisionView(
            id=str(uuid.uuid4()),  # the scaler's decision ids are UUIDs, its event's message id
            group=group,
            at=now,
            allowed=True,
            delta=delta,
            reason="allowed",
            message=f"scale by {delta}",
            trigger=trigger,
            rule="manual",
            activity_id=activity_id,
        )
        self.decisions.append(decision)
        kind = ActivityKind.SCALE_OUT if delta > 0 else ActivityKind.SCALE_IN
        # the scaler's own plan, its first step done and the second running (hooks not configured)
        plan = SCALE_OUT_PLAN if kind is ActivityKind.SCALE_OUT else SCALE_IN_PLAN
        steps = tuple(
            StepView(
                vm_name=f"{group}-1",
                step=step.value,
                phase="forward",
                status="done" if n == 0 else "running" if n == 1 else "skipped" if step in HOOK_STEPS else "pending",
                started_at=now if n < 2 else None,
            )
            for n, step in enumerate(plan)
        )
        self.activities.append(
            ActivityView(
                id=activity_id,
                group=group,
                kind=kind.value,
                status="running",
                cause=trigger,
                decision_id=decision.id,
                created_at=now,
                vm_names=(f"{group}-1",),
                steps=steps,
            )
        )
        await bus.publish(
            subjects.DECISION_RECORDED,
            DecisionRecorded(
                message_id=uuid.UUID(decision.id),
                group=group,
                allowed=True,
                delta=delta,
                reason=f"allowed: {decision.message}",
                trigger=trigger,
                activity_id=activity_id,
            ),
        )
        await bus.publish(
            subjects.ACTIVITY_STARTED,
            ActivityStarted(activity_id=activity_id, group=group, kind=kind, delta=delta, cause=trigger),
        )
        return decision
