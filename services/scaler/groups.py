"""Use case: operators manage groups, IP pools and instances.

Enabling a group provisions its alert rules and Alertmanager route through monitoring, after
checking that its Prometheus job, template and load-balancer pool exist (docs/original-system.md §4 MUST);
editing thresholds or durations re-provisions; disabling or deleting removes rules, routes and
the scale-in silence and leaves the VMs alone. Provisioning outcomes arrive as events and are
kept on the group (``alerts_status``), so partial failures are visible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from ipaddress import IPv4Address
from typing import Any

from pydantic import ValidationError

from services.scaler.activities import sync_silence
from services.scaler.domain import ipam
from services.scaler.domain.errors import ActivityRunning, InvalidPolicy, UnknownGroup, UnknownPool
from services.scaler.domain.model import Instance, InstanceState, IpLease, IpPool, LeaseState, Process, ScalingGroup
from services.scaler.field_errors import field_problems
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import GroupRecord, ResourceChecker, Store, UnitOfWork
from shared import subjects
from shared.clock import Clock
from shared.errors import ConfigurationError, Conflict, NotFound, VmscaleError
from shared.messages import (
    AlertRuleSpec,
    GroupAlertsProvisioned,
    GroupAlertsRemoved,
    MonitoringFailed,
    ProvisionGroupAlerts,
    RemoveGroupAlerts,
    SetScaleInSilence,
)
from shared.problems import summary

__all__ = ["GroupAdmin", "parse_group", "parse_pool"]

_ALERT_FIELDS = ("thresholds", "prometheus_job")


def parse_group(spec: dict[str, Any]) -> ScalingGroup:
    """Validate group settings; ``InvalidPolicy`` lists every problem."""
    try:
        return ScalingGroup.model_validate(spec)
    except ValidationError as exc:
        raise InvalidPolicy("invalid group: " + summary(exc, whole="group"), fields=field_problems(exc, spec)) from exc


def parse_pool(spec: dict[str, Any]) -> IpPool:
    """Validate IP-pool settings; ``InvalidPolicy`` lists every problem."""
    try:
        return IpPool.model_validate(spec)
    except ValidationError as exc:
        problems = summary(exc, whole="pool")
        raise InvalidPolicy("invalid IP pool: " + problems, fields=field_problems(exc, spec)) from exc


def _in_ranges(pool: IpPool, address: str) -> bool:
    value = int(IPv4Address(address))
    return any(int(r.start) <= value <= int(r.end) for r in pool.ranges)


def _provision(spec: ScalingGroup, webhook_base: str) -> ProvisionGroupAlerts:
    t = spec.thresholds
    rules = AlertRuleSpec(
        job=spec.prometheus_job,
        cpu_high=t.cpu_high,
        memory_high=t.memory_high,
        cpu_low=t.cpu_low,
        memory_low=t.memory_low,
        out_for_s=t.out_for_s,
        in_for_s=t.in_for_s,
    )
    url = f"{webhook_base.rstrip('/')}/api/webhook/autoscale/{spec.name}"
    return ProvisionGroupAlerts(group=spec.name, rules=rules, webhook_url=url, correlation_id=f"group:{spec.name}")


ExistingVms = Callable[[ScalingGroup], Awaitable[list[tuple[str, str | None]]]]
"""The VMs a group's Prometheus job already scrapes, as (name, address) (``importer.bus_discovery``)."""


class GroupAdmin:
    """Group, pool and instance administration."""

    def __init__(
        self,
        store: Store,
        checker: ResourceChecker,
        relay: OutboxRelay,
        clock: Clock,
        webhook_base: str,
        existing_vms: ExistingVms | None = None,
    ) -> None:
        self._store = store
        self._checker = checker
        self._relay = relay
        self._clock = clock
        self._webhook_base = webhook_base
        self._existing_vms = existing_vms

    async def save_group(self, spec: ScalingGroup, *, create: bool) -> tuple[GroupRecord, list[str]]:
        """Create or replace a group (enabled ones are checked and provisioned)."""
        wants_enabled = spec.enabled
        was_enabled = bool(
            (current := await self._store.transaction(lambda uow: uow.groups.get(spec.name))) and current.spec.enabled
        )
        if wants_enabled:
            await self._require_resources(spec)
        now = self._clock.now()
        problems: list[str] = []

        def txn(uow: UnitOfWork) -> GroupRecord:
            problems.clear()
            existing = uow.groups.get(spec.name, for_update=True)
            if create and existing is not None:
                raise Conflict(f"group {spec.name} exists", group=spec.name)
            if create and any(r.spec.name.lower() == spec.name.lower() for r in uow.groups.all()):
                # names key webhook paths and alert names, which the original matched regardless of case
                raise Conflict(f"a group named {spec.name} in another case exists", group=spec.name)
            if not create and existing is None:
                raise UnknownGroup(f"no group {spec.name}", group=spec.name)
            pool = uow.ip_pools.get(spec.ip_pool)
            if pool is None:
                raise UnknownPool(f"no IP pool {spec.ip_pool}", pool=spec.ip_pool)
            base = sum(1 for i in uow.instances.all(spec.name) if i.base and i.counts)
            if ipam.capacity(pool) < spec.max_size - base:
                # Reported, not refused: pools may be shared, so no static check can promise
                # addresses; exhaustion is a named block reason of every decision instead.
                problems.append(
                    f"IP pool {pool.name} holds {ipam.capacity(pool)} addresses, fewer than max_size {spec.max_size}"
                    f" minus {base} base VMs: scale-outs will be blocked with ip_pool_exhausted"
                )
            record = GroupRecord(spec=spec, created_at=now, updated_at=now)
            if existing is not None:
                record = existing.model_copy(update={"spec": spec, "updated_at": now})
            changed = (
                existing is None
                or any(getattr(existing.spec, f) != getattr(spec, f) for f in _ALERT_FIELDS)
                or not existing.spec.enabled
            )
            if spec.enabled and changed:
                uow.outbox.add(subjects.CMD_MONITORING_PROVISION_ALERTS, _provision(spec, self._webhook_base))
                record = record.model_copy(
                    update={"state": record.state.model_copy(update={"alerts_status": "provisioning"})}
                )
            if existing is not None and existing.spec.enabled and not spec.enabled:
                record = self._unprovision(uow, record)
            uow.groups.save(record)
            return sync_silence(uow, record, now)

        turned_on = wants_enabled and not was_enabled
        record = await self._store.transaction(txn)
        self._relay.kick()
        if turned_on:
            problems += await self._adopt_existing(spec)
        return record, list(problems)

    async def _adopt_existing(self, spec: ScalingGroup) -> list[str]:
        """On enabling: the job's VMs that are not instances yet become protected base instances.

        They are the VMs the service ran on before vmscale; they count toward min/max and are
        never scaled in. A discovery failure is reported, not fatal (enable again to retry).
        """
        if self._existing_vms is None:
            return []
        try:
            found = await self._existing_vms(spec)
        except VmscaleError as exc:
            return [f"existing VMs of job {spec.prometheus_job} not discovered: {exc}"]
        if found:
            await self.register_base(spec.name, found)
        return []

    async def _require_resources(self, spec: ScalingGroup) -> None:
        missing = await self._checker.missing(spec)
        if missing:
            raise ConfigurationError(f"cannot enable {spec.name}: " + "; ".join(missing), group=spec.name)

    def _unprovision(self, uow: UnitOfWork, record: GroupRecord) -> GroupRecord:
        name = record.spec.name
        uow.outbox.add(
            subjects.CMD_MONITORING_REMOVE_ALERTS, RemoveGroupAlerts(group=name, correlation_id=f"group:{name}")
        )
        uow.outbox.add(
            subjects.CMD_MONITORING_SILENCE,
            SetScaleInSilence(group=name, active=False, reason="group disabled", correlation_id=f"group:{name}"),
        )
        state = record.state.model_copy(update={"alerts_status": "removing", "scale_in_silenced": False})
        return record.model_copy(update={"state": state})

    async def set_enabled(self, name: str, enabled: bool) -> tuple[GroupRecord, list[str]]:
        """Enable (check, then provision) or disable (remove alerts and silence) a group."""
        record = await self._store.transaction(lambda uow: uow.groups.get(name))
        if record is None:
            raise UnknownGroup(f"no group {name}", group=name)
        if record.spec.enabled == enabled:
            return record, []
        spec = record.spec.model_copy(update={"enabled": enabled})
        return await self.save_group(spec, create=False)

    async def delete_group(self, name: str) -> list[str]:
        """Delete a group; its VMs keep running and keep their addresses (as leases)."""

        def txn(uow: UnitOfWork) -> list[str]:
            record = uow.groups.get(name, for_update=True)
            if record is None:
                raise UnknownGroup(f"no group {name}", group=name)
            active = uow.activities.active(name)
            if active:
                raise ActivityRunning(f"group {name} runs activity {active[0].id}; cancel it first", group=name)
            self._unprovision(uow, record)
            kept = []
            for instance in uow.instances.all(name):
                if instance.counts:
                    kept.append(instance.vm_name)
                uow.instances.delete(name, instance.vm_name)
            uow.groups.delete(name)
            return [f"VMs left running (not managed any more): {', '.join(kept)}"] if kept else []

        problems = await self._store.transaction(txn)
        self._relay.kick()
        return problems

    async def suspend(self, name: str, suspend: set[Process], resume: set[Process]) -> GroupRecord:
        """Suspend and resume scaling processes."""
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> GroupRecord:
            record = uow.groups.get(name, for_update=True)
            if record is None:
                raise UnknownGroup(f"no group {name}", group=name)
            processes = (set(record.spec.suspended) | suspend) - resume
            spec = record.spec.model_copy(update={"suspended": frozenset(processes)})
            updated = record.model_copy(update={"spec": spec, "updated_at": now})
            uow.groups.save(updated)
            return updated

        return await self._store.transaction(txn)

    async def protect(self, group: str, vm_name: str, protected: bool) -> Instance:
        """Protect an instance from scale-in (or lift it)."""

        def txn(uow: UnitOfWork) -> Instance:
            instance = uow.instances.get(group, vm_name)
            if instance is None:
                raise NotFound(f"no instance {vm_name} in {group}", group=group, vm_name=vm_name)
            changed = instance.model_copy(update={"protected": protected})
            uow.instances.save(changed)
            return changed

        return await self._store.transaction(txn)

    async def detach(self, group: str, vm_name: str) -> Instance:
        """Take a VM out of the group without touching it; returns the instance as it was.

        The VM keeps running, keeps its pool membership and its Prometheus target (the operator
        decides about those); vmscale stops counting and managing it. Its address leaves the IP
        pool for good (added to the exclusions) so no future clone is given the same IP.
        Refused while an activity runs for the group.
        """
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> Instance:
            record = uow.groups.get(group, for_update=True)
            if record is None:
                raise UnknownGroup(f"no group {group}", group=group)
            active = uow.activities.active(group)
            if active:
                raise ActivityRunning(f"group {group} runs activity {active[0].id}; try again after it", group=group)
            instance = uow.instances.get(group, vm_name)
            if instance is None or instance.state is InstanceState.TERMINATED:
                raise NotFound(f"no instance {vm_name} in {group}", group=group, vm_name=vm_name)
            uow.instances.delete(group, vm_name)
            pool = uow.ip_pools.get(record.spec.ip_pool)
            if pool is not None and instance.address is not None:
                for lease in uow.ip_pools.leases(pool.name):
                    if lease.address == instance.address and lease.state is not LeaseState.RELEASED:
                        uow.ip_pools.save_lease(
                            lease.model_copy(update={"state": LeaseState.RELEASED, "updated_at": now})
                        )
                uow.ip_pools.save(pool.model_copy(update={"exclusions": pool.exclusions | {instance.address}}))
            sync_silence(uow, record, now)
            return instance

        result = await self._store.transaction(txn)
        self._relay.kick()
        return result

    async def save_pool(self, pool: IpPool) -> IpPool:
        """Create or replace an IP pool; addresses held by leases must stay inside it."""

        def txn(uow: UnitOfWork) -> IpPool:
            usable = set(ipam.usable(pool)) if ipam.capacity(pool) <= 65536 else None
            for lease in uow.ip_pools.leases(pool.name):
                if lease.state is not LeaseState.RELEASED and usable is not None and lease.address not in usable:
                    raise Conflict(f"{lease.address} is held by {lease.vm_name} and would fall outside the pool")
            uow.ip_pools.save(pool)
            return pool

        return await self._store.transaction(txn)

    async def delete_pool(self, name: str) -> None:
        """Delete an IP pool that no group uses and no VM holds an address of."""

        def txn(uow: UnitOfWork) -> None:
            if uow.ip_pools.get(name) is None:
                raise UnknownPool(f"no IP pool {name}", pool=name)
            users = [r.spec.name for r in uow.groups.all() if r.spec.ip_pool == name]
            if users:
                raise Conflict(f"IP pool {name} is used by {', '.join(users)}", pool=name)
            if any(lease.state is not LeaseState.RELEASED for lease in uow.ip_pools.leases(name)):
                raise Conflict(f"IP pool {name} still has addresses in use", pool=name)
            uow.ip_pools.delete(name)

        await self._store.transaction(txn)

    async def register_base(
        self, group: str, vms: list[tuple[str, str | None]], at: datetime | None = None
    ) -> list[Instance]:
        """Register existing VMs as protected base instances (idempotent by VM name)."""
        now = at or self._clock.now()

        def txn(uow: UnitOfWork) -> list[Instance]:
            record = uow.groups.get(group, for_update=True)
            if record is None:
                raise UnknownGroup(f"no group {group}", group=group)
            pool = uow.ip_pools.get(record.spec.ip_pool)
            held = {
                str(lease.address) for lease in uow.ip_pools.leases(record.spec.ip_pool) if lease.state != "released"
            }
            out = []
            for name, address in vms:
                existing = uow.instances.get(group, name)
                instance = existing or Instance(
                    group=group,
                    vm_name=name,
                    address=IPv4Address(address) if address else None,
                    state=InstanceState.IN_SERVICE,
                    protected=True,
                    base=True,
                    created_at=now,
                )
                uow.instances.save(instance)
                out.append(instance)
                if pool is not None and address and address not in held and _in_ranges(pool, address):
                    uow.ip_pools.save_lease(
                        IpLease(
                            pool=pool.name,
                            address=IPv4Address(address),
                            group=group,
                            vm_name=name,
                            state=LeaseState.CONFIRMED,
                            updated_at=now,
                        )
                    )
            sync_silence(uow, record, now)
            return out

        result = await self._store.transaction(txn)
        self._relay.kick()
        return result

    async def on_monitoring_event(self, event: GroupAlertsProvisioned | GroupAlertsRemoved | MonitoringFailed) -> None:
        """Keep the provisioning outcome on the group (partial failures stay visible)."""
        if isinstance(event, MonitoringFailed):
            correlation = event.correlation_id or ""
            if not correlation.startswith("group:"):
                return
            name, status, detail = correlation.removeprefix("group:"), "failed", f"{event.operation}: {event.reason}"
        elif isinstance(event, GroupAlertsProvisioned):
            name, status, detail = event.group, "provisioned", ", ".join(event.rule_names)
        else:
            name, status, detail = event.group, "removed", ""

        def txn(uow: UnitOfWork) -> None:
            record = uow.groups.get(name, for_update=True)
            if record is None:
                return
            if status == "provisioned" and not record.spec.enabled:
                return  # a late answer to an enable that was since undone
            state = record.state.model_copy(update={"alerts_status": status, "alerts_detail": detail})
            uow.groups.save(record.model_copy(update={"state": state}))

        await self._store.transaction(txn)
