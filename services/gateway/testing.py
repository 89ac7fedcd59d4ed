"""Stand-in backends on the bus, for the gateway's tests and UI tests.

Real subscribers on the test's subject prefix that keep state, not mocks: the gateway talks to
them exactly as it talks to the scaler, inventory and load balancer. Their validation is a
small subset of the scaler's, enough to exercise the error paths.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import (
    ActivitiesReply,
    ActivityKind,
    ActivityStarted,
    ActivityView,
    AlertFired,
    AlertResolved,
    DecisionRecorded,
    DecisionsReply,
    DecisionView,
    DeleteGroup,
    DryRunGroup,
    DryRunOutcome,
    DryRunReply,
    GetGroup,
    GroupReply,
    GroupsReply,
    GroupStatusQuery,
    GroupStatusReply,
    GroupView,
    InstanceMetricsQuery,
    InstanceMetricsReply,
    InstanceSeries,
    IpPoolsReply,
    ListActivities,
    ListDecisions,
    ListGroups,
    ListIpPools,
    ListPools,
    ListVirtualServers,
    ManualScale,
    MonitoringAlertsQuery,
    MonitoringAlertsReply,
    MonitoringJobsQuery,
    MonitoringJobsReply,
    MonitoringRoutesQuery,
    MonitoringRoutesReply,
    MonitoringSilencesQuery,
    MonitoringSilencesReply,
    MonitoringTargetsQuery,
    MonitoringTargetsReply,
    NetworksQuery,
    NetworksReply,
    OperationReply,
    PoolInfo,
    PoolsReply,
    Reply,
    SaveGroup,
    ScaleReply,
    SetGroupEnabled,
    SetSuspendedProcesses,
    StepView,
    TargetHealthInfo,
    TemplateInfo,
    TemplatesQuery,
    TemplatesReply,
    VirtualServerInfo,
    VirtualServersReply,
    VmInfo,
    VmsQuery,
    VmsReply,
    utcnow,
)

__all__ = ["FakeBackends", "FakeScaler"]

R = TypeVar("R", bound=Reply)
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
    """Groups, decisions and activities in memory; records the ``alert.*`` events it consumes."""

    groups: dict[str, bool] = field(default_factory=dict)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[DecisionView] = field(default_factory=list)
    activities: list[ActivityView] = field(default_factory=list)
    fired: list[AlertFired] = field(default_factory=list)
    resolved: list[AlertResolved] = field(default_factory=list)
    status_queries: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

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
            return GroupReply(group=self.view(query.name), activities=mine)

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

        @bus.responder(router, subjects.QUERY_SCALER_IP_POOLS, "scaler")
        async def ip_pools(query: ListIpPools) -> IpPoolsReply:
            return IpPoolsReply()

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
        step = StepView(vm_name=f"{group}-1", step="reserve_ip", phase="forward", status="done", started_at=now)
        self.activities.append(
            ActivityView(
                id=activity_id,
                group=group,
                kind=kind.value,
                status="running",
                cause=trigger,
                decision_id=decision.id,
                created_at=now,
                steps=(step,),
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


@dataclass
class FakeBackends:
    """Inventory and load balancer stand-ins: a few VMs, templates, networks, pools and VIPs."""

    vms: tuple[VmInfo, ...] = (
        VmInfo(name="web-01", moref="vm-1", power_state="poweredOn", ip="127.0.10.11"),
        VmInfo(name="web-02", moref="vm-2", power_state="poweredOn", ip="127.0.10.12"),
    )
    templates: tuple[TemplateInfo, ...] = (
        TemplateInfo(vm=VmInfo(name="ubuntu-22-template", moref="vm-9", template=True), description="base image"),
    )

    def router(self, bus: Bus) -> NatsRouter:
        """Responders for inventory and load balancer queries."""
        router = NatsRouter()

        @bus.responder(router, subjects.QUERY_INVENTORY_VMS, "inventory")
        async def vms(query: VmsQuery) -> VmsReply:
            return VmsReply(vms=self.vms, total=len(self.vms))

        @bus.responder(router, subjects.QUERY_INVENTORY_TEMPLATES, "inventory")
        async def templates(query: TemplatesQuery) -> TemplatesReply:
            return TemplatesReply(templates=self.templates)

        @bus.responder(router, subjects.QUERY_INVENTORY_NETWORKS, "inventory")
        async def networks(query: NetworksQuery) -> NetworksReply:
            return NetworksReply()

        @bus.responder(router, subjects.QUERY_MONITORING_JOBS, "monitoring")
        async def jobs(query: MonitoringJobsQuery) -> MonitoringJobsReply:
            return MonitoringJobsReply(jobs={"web": 2})

        @bus.responder(router, subjects.QUERY_MONITORING_TARGETS, "monitoring")
        async def targets(query: MonitoringTargetsQuery) -> MonitoringTargetsReply:
            return MonitoringTargetsReply(
                targets=tuple(
                    TargetHealthInfo(job=query.job, target=f"{vm.ip}:9100", instance=vm.ip or "", health="up")
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

        @bus.responder(router, subjects.QUERY_MONITORING_ROUTES, "monitoring")
        async def routes(query: MonitoringRoutesQuery) -> MonitoringRoutesReply:
            return MonitoringRoutesReply(
                routes=({"service": "web", "receiver": "jenkins-webhook-web-out", "matchers": ["service=web"]},)
            )

        @bus.responder(router, subjects.QUERY_MONITORING_SILENCES, "monitoring")
        async def silences(query: MonitoringSilencesQuery) -> MonitoringSilencesReply:
            return MonitoringSilencesReply()

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
            return PoolsReply(pools=(PoolInfo(name="web-pool", member_count=2),))

        @bus.responder(router, subjects.QUERY_POOL_VIRTUAL_SERVERS, "loadbalancer")
        async def vips(query: ListVirtualServers) -> VirtualServersReply:
            return VirtualServersReply(
                virtual_servers=(VirtualServerInfo(name="web-vs", address="127.0.10.100", port=80, pool="web-pool"),)
            )

        return router
