"""Stand-in backends on the bus, for the gateway's tests and UI tests.

Real subscribers on the test's subject prefix that keep state, not mocks: the gateway talks to
them exactly as it talks to the scaler, inventory and load balancer. Their validation is a
small subset of the scaler's, enough to exercise the error paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from faststream.nats import NatsRouter

from services.scaler.domain import ipam
from services.scaler.domain.errors import InvalidPolicy
from services.scaler.domain.model import IpLease, IpPool, LeaseState
from services.scaler.domain.saga import HOOK_STEPS, SCALE_IN_PLAN, SCALE_OUT_PLAN
from services.scaler.groups import parse_pool
from services.scaler.views import pool_view
from shared import subjects
from shared.bus import Bus
from shared.errors import kind_of
from shared.messages import (
    ActivitiesReply,
    ActivityKind,
    ActivityReply,
    ActivityRolledBack,
    ActivityStarted,
    ActivityView,
    AlertFired,
    AlertResolved,
    CancelActivity,
    ComputeQuery,
    ComputeReply,
    DashboardLink,
    DatastoreInfo,
    DatastoresQuery,
    DatastoresReply,
    DecisionRecorded,
    DecisionsReply,
    DecisionView,
    DeleteGroup,
    DeleteIpPool,
    DetachInstance,
    DryRunGroup,
    DryRunOutcome,
    DryRunReply,
    FolderInfo,
    FoldersQuery,
    FoldersReply,
    GetActivity,
    GetGroup,
    GroupReply,
    GroupsReply,
    GroupStatusQuery,
    GroupStatusReply,
    GroupView,
    HealthQuery,
    HealthReply,
    InstanceMetricsQuery,
    InstanceMetricsReply,
    InstanceReply,
    InstanceSeries,
    InstancesReply,
    InstanceView,
    InventoryObject,
    InventoryStatusQuery,
    InventoryStatusReply,
    IpPoolReply,
    IpPoolsReply,
    IpPoolView,
    ListActivities,
    ListDecisions,
    ListGroups,
    ListInstances,
    ListIpPools,
    ListPoolMembers,
    ListPools,
    ListVirtualServers,
    ManualScale,
    MemberAdmin,
    MemberHealth,
    MemberState,
    MonitoringAlertsQuery,
    MonitoringAlertsReply,
    MonitoringJobsQuery,
    MonitoringJobsReply,
    MonitoringRoutesQuery,
    MonitoringRoutesReply,
    MonitoringRulesQuery,
    MonitoringRulesReply,
    MonitoringSilencesQuery,
    MonitoringSilencesReply,
    MonitoringTargetsQuery,
    MonitoringTargetsReply,
    NetworksQuery,
    NetworksReply,
    OperationReply,
    PoolInfo,
    PoolMember,
    PoolMembersReply,
    PoolsReply,
    ProtectInstance,
    Reply,
    SaveGroup,
    SaveIpPool,
    ScaleReply,
    ServiceHeartbeat,
    SetGroupEnabled,
    SetSuspendedProcesses,
    StepView,
    TargetHealthInfo,
    TemplateInfo,
    TemplatesQuery,
    TemplatesReply,
    ValidateGroup,
    ValidationReply,
    VirtualServerInfo,
    VirtualServersReply,
    VmInfo,
    VmQuery,
    VmReply,
    VmsQuery,
    VmsReply,
    utcnow,
)
from shared.runtime import VERSION

__all__ = ["FakeBackends", "FakeScaler"]

R = TypeVar("R", bound=Reply)
T = TypeVar("T")
_DISABLED_WARNING = "the group is disabled: no alert reaches it until it is enabled"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _problems(spec: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("name", "vm_prefix", "template", "prometheus_job", "pool", "vip", "ip_pool"):
        if not str(spec.get(key) or "").strip():
            problems.append(f"{key}: Field required")
    for key in ("name", "vm_prefix"):
        if spec.get(key) and not _NAME.match(str(spec[key])):
            problems.append(f"{key}: String should match pattern '{_NAME.pattern}'")
    low, high = spec.get("min_size"), spec.get("max_size")
    for key, value in (("min_size", low), ("max_size", high)):
        if not isinstance(value, int) or value < 1:
            problems.append(f"{key}: Input should be greater than or equal to 1")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append("min_size: min_size must not exceed max_size")
    thresholds = spec.get("thresholds") or {}
    if thresholds.get("cpu_low", 30) >= thresholds.get("cpu_high", 80):
        problems.append("thresholds.cpu_low: must be below cpu_high")
    return problems


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
        return GroupView(
            name=name,
            enabled=self.groups.get(name, False),
            min_size=int(spec.get("min_size", 1)),
            max_size=int(spec.get("max_size", 1)),
            size=int(spec.get("min_size", 1)),
            in_service=int(spec.get("min_size", 1)),
            alerts_status="provisioned" if self.groups.get(name) else "none",
            spec=spec,
            created_at=utcnow(),
        )

    def _missing(self, name: str, reply: type[R]) -> R:
        return reply(error=f"no scaling group {name!r}", error_kind="NotFound")

    def router(self, bus: Bus) -> NatsRouter:
        """A router with the fake's responders and consumers on ``bus``."""
        router = NatsRouter()

        @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
        async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
            self.status_queries += 1
            enabled = self.groups.get(query.group)
            return GroupStatusReply(group=query.group, exists=enabled is not None, enabled=bool(enabled))

        @bus.responder(router, subjects.QUERY_SCALER_GROUPS, "scaler")
        async def list_groups(query: ListGroups) -> GroupsReply:
            return GroupsReply(groups=tuple(self.view(name) for name in sorted(self.groups)))

        @bus.responder(router, subjects.QUERY_SCALER_GROUP, "scaler")
        async def get_group(query: GetGroup) -> GroupReply:
            if query.name not in self.groups:
                return self._missing(query.name, GroupReply)
            mine = tuple(a for a in self.activities if a.group == query.name)
            members = tuple(self.members(query.name).values())
            return GroupReply(group=self.view(query.name), instances=members, activities=mine)

        @bus.responder(router, subjects.QUERY_SCALER_SAVE_GROUP, "scaler")
        async def save_group(query: SaveGroup) -> GroupReply:
            problems = _problems(query.spec)
            if problems:
                return GroupReply(error="; ".join(problems), error_kind="InvalidInput")
            name = str(query.spec["name"])
            if query.create and name in self.groups:
                return GroupReply(error=f"group {name!r} exists", error_kind="Conflict")
            if not query.create and name not in self.groups:
                return self._missing(name, GroupReply)
            self.specs[name] = dict(query.spec)
            self.groups[name] = bool(query.spec.get("enabled", self.groups.get(name, False)))
            return GroupReply(group=self.view(name))

        @bus.responder(router, subjects.QUERY_SCALER_DELETE_GROUP, "scaler")
        async def delete_group(query: DeleteGroup) -> OperationReply:
            if query.name not in self.groups:
                return self._missing(query.name, OperationReply)
            del self.groups[query.name]
            self.specs.pop(query.name, None)
            self.instances.pop(query.name, None)
            return OperationReply(ok=True, message="deleted")

        @bus.responder(router, subjects.QUERY_SCALER_SET_ENABLED, "scaler")
        async def set_enabled(query: SetGroupEnabled) -> GroupReply:
            if query.name not in self.groups:
                return self._missing(query.name, GroupReply)
            self.groups[query.name] = query.enabled
            return GroupReply(group=self.view(query.name))

        @bus.responder(router, subjects.QUERY_SCALER_SUSPEND, "scaler")
        async def suspend(query: SetSuspendedProcesses) -> GroupReply:
            if query.group not in self.groups:
                return self._missing(query.group, GroupReply)
            return GroupReply(group=self.view(query.group))

        @bus.responder(router, subjects.QUERY_SCALER_SCALE, "scaler")
        async def scale(query: ManualScale) -> ScaleReply:
            if query.group not in self.groups:
                return self._missing(query.group, ScaleReply)
            return ScaleReply(decision=await self.decide(bus, query.group, query.delta or 1, "manual"))

        @bus.responder(router, subjects.QUERY_SCALER_DRY_RUN, "scaler")
        async def dry_run(query: DryRunGroup) -> DryRunReply:
            if query.name not in self.groups:
                return self._missing(query.name, DryRunReply)
            view = self.view(query.name)
            grow, shrink = view.size < view.max_size, view.size > view.min_size
            observed = {"size": view.size}
            return DryRunReply(
                outcomes=(
                    DryRunOutcome(
                        trigger=f"alert:{query.name}_HighResourceUsage",
                        allowed=grow,
                        delta=1 if grow else 0,
                        reason="allowed" if grow else "at_max",
                        message="would add 1 VM(s)" if grow else f"{view.size} VMs ≥ max_size {view.max_size}",
                        rule="step",
                        observed=observed,
                    ),
                    DryRunOutcome(
                        trigger=f"alert:{query.name}_LowResourceUsage",
                        allowed=shrink,
                        delta=-1 if shrink else 0,
                        reason="allowed" if shrink else "at_min",
                        message="would remove 1 VM(s)" if shrink else f"{view.size} VMs ≤ min_size {view.min_size}",
                        rule="step",
                        observed=observed,
                    ),
                )
            )

        @bus.responder(router, subjects.QUERY_SCALER_DECISIONS, "scaler")
        async def decisions(query: ListDecisions) -> DecisionsReply:
            found = [d for d in reversed(self.decisions) if query.group in (None, d.group)]
            return DecisionsReply(decisions=tuple(found[: query.limit]))

        @bus.responder(router, subjects.QUERY_SCALER_ACTIVITIES, "scaler")
        async def activities(query: ListActivities) -> ActivitiesReply:
            found = [a for a in reversed(self.activities) if query.group in (None, a.group)]
            return ActivitiesReply(activities=tuple(found[: query.limit]))

        @bus.responder(router, subjects.QUERY_SCALER_ACTIVITY, "scaler")
        async def activity(query: GetActivity) -> ActivityReply:
            found = self.activity(query.activity_id)
            if found is None:
                return ActivityReply(error=f"no activity {query.activity_id}", error_kind="NotFound")
            return ActivityReply(activity=found[1])

        @bus.responder(router, subjects.QUERY_SCALER_CANCEL, "scaler")
        async def cancel(query: CancelActivity) -> ActivityReply:
            found = self.activity(query.activity_id)
            if found is None:
                return ActivityReply(error=f"no activity {query.activity_id}", error_kind="NotFound")
            n, current = found
            if current.status != "running":
                return ActivityReply(activity=current)
            now = utcnow()
            undo = tuple(
                StepView(vm_name=step.vm_name, step="release_ip", phase="compensate", status="done", started_at=now)
                for step in current.steps
                if step.step == "reserve_ip" and step.status == "done"
            )
            reason = f"cancelled by {query.actor}"
            cancelled = current.model_copy(
                update={
                    "status": "cancelled",
                    "failed_step": "cancel",
                    "reason": reason,
                    "finished_at": now,
                    "steps": current.steps + undo,
                }
            )
            self.activities[n] = cancelled
            await bus.publish(
                subjects.ACTIVITY_ROLLED_BACK,
                ActivityRolledBack(
                    activity_id=current.id,
                    group=current.group,
                    kind=ActivityKind(current.kind),
                    failed_step="cancel",
                    reason=reason,
                    duration_s=(now - current.created_at).total_seconds(),
                ),
            )
            return ActivityReply(activity=cancelled)

        @bus.responder(router, subjects.QUERY_SCALER_INSTANCES, "scaler")
        async def instances(query: ListInstances) -> InstancesReply:
            if query.group is not None and query.group not in self.groups:
                return self._missing(query.group, InstancesReply)
            names = sorted(self.groups) if query.group is None else [query.group]
            return InstancesReply(instances=tuple(i for name in names for i in self.members(name).values()))

        @bus.responder(router, subjects.QUERY_SCALER_PROTECT, "scaler")
        async def protect(query: ProtectInstance) -> InstanceReply:
            members = self.members(query.group)
            if query.vm_name not in members:
                error = f"no instance {query.vm_name} in {query.group}"
                return InstanceReply(error=error, error_kind="NotFound")
            changed = members[query.vm_name].model_copy(update={"protected": query.protected})
            members[query.vm_name] = changed
            return InstanceReply(instance=changed)

        @bus.responder(router, subjects.QUERY_SCALER_DETACH, "scaler")
        async def detach(query: DetachInstance) -> InstanceReply:
            if query.group not in self.groups:
                return self._missing(query.group, InstanceReply)
            running = [a.id for a in self.activities if a.group == query.group and a.status == "running"]
            if running:
                error = f"group {query.group} runs activity {running[0]}; try again after it"
                return InstanceReply(error=error, error_kind="Conflict")
            members = self.members(query.group)
            if query.vm_name not in members:
                error = f"no instance {query.vm_name} in {query.group}"
                return InstanceReply(error=error, error_kind="NotFound")
            instance = members.pop(query.vm_name)
            # its address leaves the IP pool for good, as the scaler does
            pool = self.ip_pools.get(str(self.specs.get(query.group, {}).get("ip_pool")))
            if pool is not None and instance.address is not None:
                excluded = pool.exclusions | {ipaddress.IPv4Address(instance.address)}
                self.ip_pools[pool.name] = pool.model_copy(update={"exclusions": excluded})
            return InstanceReply(instance=instance)

        @bus.responder(router, subjects.QUERY_SCALER_VALIDATE, "scaler")
        async def validate(query: ValidateGroup) -> ValidationReply:
            problems = _problems(query.spec)
            if problems:
                return ValidationReply(problems=tuple(problems))
            disabled = () if query.spec.get("enabled") else (_DISABLED_WARNING,)
            return ValidationReply(warnings=disabled)

        @bus.responder(router, subjects.QUERY_SCALER_IP_POOLS, "scaler")
        async def ip_pools(query: ListIpPools) -> IpPoolsReply:
            return IpPoolsReply(pools=tuple(self.pool(name) for name in sorted(self.ip_pools)))

        @bus.responder(router, subjects.QUERY_SCALER_SAVE_IP_POOL, "scaler")
        async def save_ip_pool(query: SaveIpPool) -> IpPoolReply:
            try:
                pool = parse_pool(query.spec)  # the scaler's own validation
            except InvalidPolicy as exc:
                return IpPoolReply(error=str(exc), error_kind=kind_of(exc))
            old = self.ip_pools.get(pool.name)
            usable = set(ipam.usable(pool))
            for lease in self.leases(old) if old is not None else ():
                if lease.address not in usable:
                    error = f"{lease.address} is held by {lease.vm_name} and would fall outside the pool"
                    return IpPoolReply(error=error, error_kind="Conflict")
            self.ip_pools[pool.name] = pool
            return IpPoolReply(pool=self.pool(pool.name))

        @bus.responder(router, subjects.QUERY_SCALER_DELETE_IP_POOL, "scaler")
        async def delete_ip_pool(query: DeleteIpPool) -> OperationReply:
            if query.name not in self.ip_pools:
                return OperationReply(error=f"no IP pool {query.name}", error_kind="NotFound")
            users = [name for name in sorted(self.groups) if self.specs.get(name, {}).get("ip_pool") == query.name]
            if users:  # (leases come from the users' instances, so no user means no lease)
                error = f"IP pool {query.name} is used by {', '.join(users)}"
                return OperationReply(error=error, error_kind="Conflict")
            del self.ip_pools[query.name]
            return OperationReply(ok=True, message=f"IP pool {query.name} deleted")

        @bus.consumer(router, subjects.ALERT_FIRED, "scaler")
        async def on_fired(event: AlertFired) -> None:
            self.fired.append(event)
            self.arrived.set()

        @bus.consumer(router, subjects.ALERT_RESOLVED, "scaler")
        async def on_resolved(event: AlertResolved) -> None:
            self.resolved.append(event)
            self.arrived.set()

        return router

    async def decide(self, bus: Bus, group: str, delta: int, trigger: str) -> DecisionView:
        """Record an allowed decision and a started activity, and publish both as events."""
        now = utcnow()
        activity_id = f"act-{uuid.uuid4().hex[:8]}"
        decision = DecisionView(
            id=f"dec-{uuid.uuid4().hex[:8]}",
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
            DecisionRecorded(group=group, allowed=True, delta=delta, reason="allowed", trigger=trigger),
        )
        await bus.publish(
            subjects.ACTIVITY_STARTED,
            ActivityStarted(activity_id=activity_id, group=group, kind=kind, delta=delta, cause=trigger),
        )
        return decision


def _version(about: str) -> str | None:
    match = re.search(r"\b(\d+\.\d+(?:\.\d+)*)\b", about)
    return match.group(1) if match else None


def _member(name: str, address: str) -> PoolMember:
    return PoolMember(
        name=name,
        address=address,
        port=80,
        state=MemberState.UP,
        admin=MemberAdmin.ENABLED,
        health=MemberHealth.UP,
    )


def _rule(group: str, name: str, expr: str) -> dict[str, Any]:
    return {
        "name": f"{group}_{name}",
        "query": expr,
        "duration": 300,
        "labels": {"service": group, "severity": "warning"},
        "annotations": {"summary": f"{name} on {group}"},
        "alerts": [],
        "health": "ok",
        "type": "alerting",
        "state": "inactive",
    }


@dataclass
class FakeBackends:
    """Inventory, monitoring and load balancer stand-ins: a few VMs, templates, networks,
    datastores, clusters, folders, alert rules, pools with members and VIPs.

    ``vcenter_synced=False`` is an inventory that has not reached vCenter yet (its cache is
    empty and its status says why); ``prometheus_up=False`` makes the Prometheus-backed
    monitoring queries answer ``ServiceUnavailable`` as the monitoring service does.
    """

    vms: tuple[VmInfo, ...] = (
        VmInfo(name="web-01", moref="vm-1", power_state="poweredOn", ip="127.0.10.11"),
        VmInfo(name="web-02", moref="vm-2", power_state="poweredOn", ip="127.0.10.12"),
    )
    templates: tuple[TemplateInfo, ...] = (
        TemplateInfo(vm=VmInfo(name="ubuntu-22-template", moref="vm-9", template=True), description="base image"),
    )
    datastores: tuple[DatastoreInfo, ...] = (
        DatastoreInfo(moref="datastore-11", name="ds-01", datacenter="DC1", capacity=2 << 40, free_space=1 << 40),
        DatastoreInfo(moref="datastore-12", name="ds-02", datacenter="DC1", capacity=1 << 40, free_space=3 << 37),
    )
    clusters: tuple[InventoryObject, ...] = (
        InventoryObject(moref="domain-c7", name="cluster-01", datacenter="DC1", path="/DC1/host/cluster-01"),
    )
    hosts: tuple[InventoryObject, ...] = (
        InventoryObject(moref="host-21", name="127.0.20.1", datacenter="DC1", parent="cluster-01"),
        InventoryObject(moref="host-22", name="127.0.20.2", datacenter="DC1", parent="cluster-01"),
    )
    resource_pools: tuple[InventoryObject, ...] = (
        InventoryObject(moref="resgroup-8", name="Resources", datacenter="DC1", parent="cluster-01"),
        InventoryObject(moref="resgroup-31", name="web", datacenter="DC1", parent="cluster-01"),
    )
    folders: tuple[FolderInfo, ...] = (
        FolderInfo(moref="group-v41", name="vmscale", path="vmscale", datacenter="DC1"),
        FolderInfo(moref="group-v42", name="web", path="vmscale/web", datacenter="DC1"),
    )
    members: dict[str, tuple[PoolMember, ...]] = field(
        default_factory=lambda: {"web-pool": (_member("web-01", "127.0.10.11"), _member("web-02", "127.0.10.12"))}
    )
    rule_groups: tuple[dict[str, Any], ...] = (
        {
            "name": "web-autoscale",
            "file": "/etc/prometheus/rules/web.yml",
            "interval": 30,
            "rules": [
                _rule(
                    "web",
                    "HighResourceUsage",
                    'avg(100 - rate(node_cpu_seconds_total{job="web",mode="idle"}[2m]) * 100) > 80',
                ),
                _rule(
                    "web",
                    "LowResourceUsage",
                    'avg(100 - rate(node_cpu_seconds_total{job="web",mode="idle"}[2m]) * 100) < 30',
                ),
            ],
        },
    )
    vcenter: str = "VMware vCenter Server 8.0.2 build-22385739"
    vcenter_synced: bool = True
    prometheus_up: bool = True
    grafana_up: bool = True
    synced_at: datetime = field(default_factory=utcnow)

    services: tuple[str, ...] = ("inventory", "monitoring", "scaler", "loadbalancer")

    @contextlib.asynccontextmanager
    async def heartbeats(self, bus: Bus, interval_s: float = 0.5) -> AsyncIterator[None]:
        """Beat for every backend service while inside, so the gateway reports them alive."""
        started = utcnow()

        async def beat() -> None:
            while True:
                for service in self.services:
                    await bus.publish(
                        subjects.HEARTBEAT,
                        ServiceHeartbeat(
                            service=service,
                            instance=f"{service}-stand-in",
                            pid=os.getpid(),
                            started_at=started,
                            version=VERSION,
                        ),
                    )
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _cached(self) -> dict[str, Any]:
        """The cache stamp of an inventory reply (none before the first sync)."""
        if not self.vcenter_synced:
            return {}
        return {"age_s": round((utcnow() - self.synced_at).total_seconds(), 3), "synced_at": self.synced_at}

    def _in(self, items: tuple[T, ...], datacenter: str | None) -> tuple[T, ...]:
        """What the inventory's cache holds of ``items`` in ``datacenter`` (all when None)."""
        if not self.vcenter_synced:
            return ()
        return tuple(item for item in items if datacenter in (None, getattr(item, "datacenter", None)))

    def router(self, bus: Bus) -> NatsRouter:
        """Responders for inventory, monitoring and load balancer queries."""
        router = NatsRouter()

        @bus.responder(router, subjects.QUERY_INVENTORY_VMS, "inventory")
        async def vms(query: VmsQuery) -> VmsReply:
            found = self.vms if self.vcenter_synced else ()
            return VmsReply(vms=found, total=len(found), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_VM, "inventory")
        async def vm(query: VmQuery) -> VmReply:
            # as the inventory: an unknown VM is ``vm=None`` (the gateway makes it a 404)
            known = (*self.vms, *(t.vm for t in self.templates)) if self.vcenter_synced else ()
            if query.moref:
                found = [v for v in known if v.moref == query.moref]
            else:
                named = [v for v in known if v.name == query.name]
                found = [v for v in named if not v.template] or named
            return VmReply(vm=found[0] if found else None, **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_TEMPLATES, "inventory")
        async def templates(query: TemplatesQuery) -> TemplatesReply:
            return TemplatesReply(templates=self.templates if self.vcenter_synced else (), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_NETWORKS, "inventory")
        async def networks(query: NetworksQuery) -> NetworksReply:
            return NetworksReply(**self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_DATASTORES, "inventory")
        async def datastores(query: DatastoresQuery) -> DatastoresReply:
            found = self._in(self.datastores, query.datacenter)
            return DatastoresReply(datastores=found, **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_COMPUTE, "inventory")
        async def compute(query: ComputeQuery) -> ComputeReply:
            return ComputeReply(
                clusters=self._in(self.clusters, query.datacenter),
                hosts=self._in(self.hosts, query.datacenter),
                resource_pools=self._in(self.resource_pools, query.datacenter),
                **self._cached(),
            )

        @bus.responder(router, subjects.QUERY_INVENTORY_FOLDERS, "inventory")
        async def folders(query: FoldersQuery) -> FoldersReply:
            return FoldersReply(folders=self._in(self.folders, query.datacenter), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_STATUS, "inventory")
        async def status(query: InventoryStatusQuery) -> InventoryStatusReply:
            if not self.vcenter_synced:
                return InventoryStatusReply(
                    connected=False,
                    consecutive_failures=3,
                    last_error="vCenter is unreachable: ConnectionRefusedError",
                )
            return InventoryStatusReply(
                connected=True,
                vcenter=self.vcenter,
                vcenter_version=_version(self.vcenter),
                last_success=self.synced_at,
                vm_count=len(self.vms),
                template_count=len(self.templates),
                revision=len(self.vms) + len(self.templates),
                **self._cached(),
            )

        @bus.responder(router, subjects.QUERY_MONITORING_JOBS, "monitoring")
        async def jobs(query: MonitoringJobsQuery) -> MonitoringJobsReply:
            if not self.grafana_up:
                return MonitoringJobsReply(jobs={"web": 2}, dashboards_error="Grafana: grafana is unreachable")
            link = DashboardLink(
                kind="infrastructure",
                title="web monitoring",
                url="http://127.0.0.1:13000/d/dashboard-web/web-monitoring",
            )
            return MonitoringJobsReply(jobs={"web": 2}, dashboards={"web": (link,)})

        @bus.responder(router, subjects.QUERY_MONITORING_TARGETS, "monitoring")
        async def targets(query: MonitoringTargetsQuery) -> MonitoringTargetsReply:
            return MonitoringTargetsReply(
                targets=tuple(
                    TargetHealthInfo(
                        job=query.job, target=f"{vm.ip}:9100", instance=vm.ip or "", vm_name=vm.name, health="up"
                    )
                    for vm in self.vms
                )
            )

        @bus.responder(router, subjects.QUERY_MONITORING_INSTANCE_METRICS, "monitoring")
        async def instance_metrics(query: InstanceMetricsQuery) -> InstanceMetricsReply:
            now = utcnow().timestamp()
            steps = range(query.minutes * 60 // query.step_s, -1, -1)
            return InstanceMetricsReply(
                series=tuple(
                    InstanceSeries(
                        instance=vm.ip or vm.name,
                        cpu=tuple((now - i * query.step_s, 20.0 + 10 * n) for i in steps),
                        memory=tuple((now - i * query.step_s, 35.0) for i in steps),
                    )
                    for n, vm in enumerate(self.vms)
                    if vm.ip
                )
            )

        @bus.responder(router, subjects.QUERY_MONITORING_RULES, "monitoring")
        async def rules(query: MonitoringRulesQuery) -> MonitoringRulesReply:
            if not self.prometheus_up:
                return MonitoringRulesReply(
                    error="prometheus is unreachable: ConnectError", error_kind="ServiceUnavailable"
                )
            return MonitoringRulesReply(groups=self.rule_groups)

        @bus.responder(router, subjects.QUERY_MONITORING_ROUTES, "monitoring")
        async def routes(query: MonitoringRoutesQuery) -> MonitoringRoutesReply:
            # as the monitoring service reads them from Alertmanager's file (managed_routes)
            url = "http://127.0.0.1:8400/api/webhook/autoscale/web"
            return MonitoringRoutesReply(
                routes=tuple(
                    {
                        "group": "web",
                        "receiver": f"jenkins-webhook-web-{direction}",
                        "direction": direction,
                        "matchers": ['service="web"', f'alertname="{alert}"'],
                        "url": url,
                    }
                    for direction, alert in (("out", "web_HighResourceUsage"), ("in", "web_LowResourceUsage"))
                )
            )

        @bus.responder(router, subjects.QUERY_MONITORING_SILENCES, "monitoring")
        async def silences(query: MonitoringSilencesQuery) -> MonitoringSilencesReply:
            # as Alertmanager's v2 API lists them: vmscale's scale-in silence of a group at its minimum
            return MonitoringSilencesReply(
                silences=(
                    {
                        "id": "5b1c0d3e-silence-web",
                        "matchers": [{"name": "alertname", "value": "web_LowResourceUsage", "isRegex": False}],
                        "startsAt": "2026-01-01T10:00:00Z",
                        "endsAt": "2026-01-01T11:00:00Z",
                        "createdBy": "vmscale",
                        "comment": "web is at its minimum size: scale-in alerts silenced",
                        "status": {"state": "active"},
                    },
                )
            )

        @bus.responder(router, subjects.QUERY_MONITORING_ALERTS, "monitoring")
        async def alerts(query: MonitoringAlertsQuery) -> MonitoringAlertsReply:
            return MonitoringAlertsReply(
                alerts=(
                    {
                        "labels": {"alertname": "web_HighResourceUsage", "service": "web", "severity": "warning"},
                        "annotations": {"summary": "CPU above 80% on web-01"},
                        "startsAt": "2026-01-01T10:00:00Z",
                        "status": {"state": "active"},
                    },
                )
            )

        @bus.responder(router, subjects.QUERY_POOL_POOLS, "loadbalancer")
        async def pools(query: ListPools) -> PoolsReply:
            return PoolsReply(
                pools=tuple(
                    PoolInfo(name=name, member_count=len(found)) for name, found in sorted(self.members.items())
                )
            )

        @bus.responder(router, subjects.QUERY_POOL_MEMBERS, "loadbalancer")
        async def members(query: ListPoolMembers) -> PoolMembersReply:
            # as the load balancer: a missing pool is not found, never an empty list
            if query.pool not in self.members:
                error = f"pool {query.pool} does not exist"
                return PoolMembersReply(pool=query.pool, error=error, error_kind="NotFound")
            return PoolMembersReply(pool=query.pool, members=self.members[query.pool])

        @bus.responder(router, subjects.QUERY_POOL_VIRTUAL_SERVERS, "loadbalancer")
        async def vips(query: ListVirtualServers) -> VirtualServersReply:
            return VirtualServersReply(
                virtual_servers=(VirtualServerInfo(name="web-vs", address="127.0.10.100", port=80, pool="web-pool"),)
            )

        for service in self.services:
            self._answer_health(bus, router, service)
        return router

    def health(self, service: str) -> HealthReply:
        """What ``service`` answers about itself and the external systems it drives (no Jenkins)."""
        external = {
            "inventory": {"vcenter": "ok" if self.vcenter_synced else "vCenter is unreachable: ConnectionRefusedError"},
            "monitoring": {
                "prometheus": "ok" if self.prometheus_up else "prometheus is unreachable: ConnectError",
                "alertmanager": "ok",
                "grafana": "ok" if self.grafana_up else "grafana is unreachable: ConnectError",
                "config_files": "ok",
            },
            "loadbalancer": {"f5": "ok"},
            "scaler": {},
        }[service]
        own = {"nats": "ok", "database": "ok", **({"redis": "ok"} if service == "scaler" else {})}
        return HealthReply(
            service=service,
            healthy=True,
            checks={**own, **external},
            latency_ms={name: 1.0 + index for index, name in enumerate(external)},
            external=sorted(external),
        )

    def _answer_health(self, bus: Bus, router: NatsRouter, service: str) -> None:
        @bus.responder(router, subjects.health_query(service), service)
        async def health(query: HealthQuery) -> HealthReply:
            return self.health(service)
