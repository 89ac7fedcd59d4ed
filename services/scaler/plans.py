"""Planning an allowed decision's activity inside the decision transaction: new VM names,
reserved addresses and pending instances for a scale-out; victims marked draining for a
scale-in. Either returns the planned (not yet started) saga."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.scaler.domain import ipam, saga
from services.scaler.domain.decide import Allow
from services.scaler.domain.model import Instance, InstanceState, LostVm, ScalingGroup
from services.scaler.domain.victims import pick_victims
from services.scaler.pingcheck import PingCheck
from services.scaler.ports import UnitOfWork
from services.scaler.records import Snapshot
from shared.errors import Contention
from shared.messages import ActivityKind

__all__ = ["Start", "plan_in", "plan_out"]


@dataclass(frozen=True)
class Start:
    """Who starts the activity, when, why and under which lease."""

    activity_id: str
    trigger: str
    now: datetime
    token: int
    owner: str


def _vm_names(group: ScalingGroup, existing: set[str], count: int, now: datetime) -> list[str]:
    """``<prefix>-<yyyymmddHHMMSS>``, with a counter when that name exists (lesson 28)."""
    stamp = f"{group.vm_prefix}-{now:%Y%m%d%H%M%S}"
    names: list[str] = []
    index = 0
    while len(names) < count:
        name = stamp if index == 0 else f"{stamp}-{index}"
        index += 1
        if name not in existing:
            names.append(name)
            existing.add(name)
    return names


def plan_out(uow: UnitOfWork, snap: Snapshot, ping: PingCheck | None, decision: Allow, start: Start) -> saga.Activity:
    """New VM names, their addresses reserved (skipping those that answered the ping check),
    pending instances."""
    spec, instances, pool, leases = snap.record.spec, snap.instances, snap.pool, list(snap.leases)
    activity_id, now = start.activity_id, start.now
    if pool is None:
        raise LookupError(f"IP pool {spec.ip_pool} is gone")
    names = _vm_names(spec, {i.vm_name for i in instances}, decision.delta, now)
    answered = ping.answered if ping is not None else frozenset()
    reserved = ipam.reserve(pool, leases, spec.name, names, activity_id, now, answered)
    if ping is not None and any(lease.address not in ping.probed for lease in reserved):
        # Another group took addresses since the probe: decide again (the alert is redelivered).
        raise Contention("IP pool changed since its ping check", pool=pool.name)
    for lease in reserved:
        uow.ip_pools.save_lease(lease)
        uow.instances.save(
            Instance(
                group=spec.name,
                vm_name=lease.vm_name,
                address=lease.address,
                state=InstanceState.PENDING,
                activity_id=activity_id,
                created_at=now,
            )
        )
    vms: list[tuple[str, str | None]] = [(lease.vm_name, str(lease.address)) for lease in reserved]
    return saga.plan(
        activity_id,
        spec.name,
        ActivityKind.SCALE_OUT,
        vms,
        cause=f"{start.trigger}: {decision.reason}",
        now=now,
        with_hook=spec.post_provision_hook is not None,
        owner=start.owner,
        lease_token=start.token,
    )


def plan_in(
    uow: UnitOfWork,
    snap: Snapshot,
    instances: tuple[Instance, ...],
    decision: Allow,
    start: Start,
    lost: tuple[LostVm, ...] = (),
) -> saga.Activity:
    """Victims by the group's order; or, for ``lost`` VMs, exactly those: nothing to drain or
    power off, no hook, and a base VM's remains are left to its owner (never destroyed)."""
    spec = snap.record.spec
    skip: dict[str, frozenset[saga.Step]] = {}
    if lost:
        names = {vm.vm_name for vm in lost}
        victims = [i for i in instances if i.vm_name in names]
        gone = frozenset({saga.Step.PRE_TERMINATION_HOOK, saga.Step.DRAIN, saga.Step.POWER_OFF})
        skip = {v.vm_name: gone | ({saga.Step.DESTROY} if v.base else frozenset()) for v in victims}
    else:
        victims = list(pick_victims(list(instances), -decision.delta, spec.victim_order))
    for victim in victims:
        uow.instances.save(victim.model_copy(update={"state": InstanceState.DRAINING}))
    vms: list[tuple[str, str | None]] = [
        (v.vm_name, str(v.address) if v.address is not None else None) for v in victims
    ]
    return saga.plan(
        start.activity_id,
        spec.name,
        ActivityKind.SCALE_IN,
        vms,
        cause=f"{start.trigger}: {decision.reason}",
        now=start.now,
        with_hook=spec.pre_termination_hook is not None and not lost,
        owner=start.owner,
        lease_token=start.token,
        skip=skip,
    )
