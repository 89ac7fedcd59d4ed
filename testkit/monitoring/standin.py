"""The monitoring stand-in: the targets it registers are the targets its queries list.

Commands (the scaler's ``cmd.monitoring.*``) answer with the monitoring service's events;
queries (the gateway's ``query.monitoring.*``) answer from the same ``targets`` and ``jobs``
and from a small Prometheus/Alertmanager/Grafana picture. ``prometheus_up=False`` makes the
Prometheus-backed queries answer ``ServiceUnavailable`` as the monitoring service does;
``grafana_up=False`` drops the dashboards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import (
    DashboardLink,
    DeregisterTarget,
    GroupAlertsProvisioned,
    GroupAlertsRemoved,
    InstanceMetricsQuery,
    InstanceMetricsReply,
    InstanceSeries,
    MonitoringAlertsQuery,
    MonitoringAlertsReply,
    MonitoringFailed,
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
    ProvisionGroupAlerts,
    RegisterTarget,
    RemoveGroupAlerts,
    SetScaleInSilence,
    TargetDeregistered,
    TargetHealthInfo,
    TargetRegistered,
    utcnow,
)
from testkit.gateway.backend_data import rule_groups_of
from testkit.standin import Reply, Script, StandIn, failure_kind

__all__ = ["MonitoringStandIn"]

SILENCE = {
    "id": "5b1c0d3e-silence-web",
    "matchers": [{"name": "alertname", "value": "web_LowResourceUsage", "isRegex": False}],
    "startsAt": "2026-01-01T10:00:00Z",
    "endsAt": "2026-01-01T11:00:00Z",
    "createdBy": "vmscale",
    "comment": "web is at its minimum size: scale-in alerts silenced",
    "status": {"state": "active"},
}
"""vmscale's scale-in silence of a group at its minimum, as Alertmanager's v2 API lists it."""


@dataclass
class MonitoringStandIn(StandIn):
    """The monitoring service in memory.

    ``targets``: (job, VM name) → ``address:port`` Prometheus scrapes; ``jobs``: the scrape jobs
    that exist (a job with no target left still exists, as its file does).
    """

    service: ClassVar[str] = "monitoring"
    operations: ClassVar[dict[str, str]] = {
        subjects.CMD_MONITORING_REGISTER.name: "register",
        subjects.CMD_MONITORING_DEREGISTER.name: "deregister",
        subjects.CMD_MONITORING_PROVISION_ALERTS.name: "provision_alerts",
        subjects.CMD_MONITORING_REMOVE_ALERTS.name: "remove_alerts",
        subjects.CMD_MONITORING_SILENCE.name: "silence",
    }

    targets: dict[tuple[str, str], str] = field(default_factory=dict)
    jobs: set[str] = field(default_factory=set)
    silenced: dict[str, bool] = field(default_factory=dict)
    alert_groups: set[str] = field(default_factory=set)
    rule_groups: tuple[dict[str, Any], ...] = field(default_factory=lambda: rule_groups_of("web", "web"))
    alerts: tuple[dict[str, Any], ...] = ()
    """Alerts as Alertmanager's v2 API lists them."""
    prometheus_up: bool = True
    grafana_up: bool = True

    def target_counts(self) -> dict[str, int]:
        """Every job and how many targets it scrapes."""
        counts = Counter(job for job, _ in self.targets)
        return {job: counts.get(job, 0) for job in sorted(self.jobs | set(counts))}

    # -- commands -------------------------------------------------------------------------------

    def _failure(self, operation: str, message: Any, script: Script) -> Reply:
        event = MonitoringFailed(
            activity_id=getattr(message, "activity_id", None),
            operation=operation,
            reason=script.reason,
            error_kind=failure_kind(script),
            retryable=script.retryable,
            **message.caused_by(message),
        )
        return subjects.MONITORING_FAILED, event

    def _register(self, cmd: RegisterTarget) -> list[Reply]:
        target = f"{cmd.address}:{cmd.port}"
        self.jobs.add(cmd.job)
        self.targets[(cmd.job, cmd.vm_name)] = target
        event = TargetRegistered(activity_id=cmd.activity_id, job=cmd.job, vm_name=cmd.vm_name, target=target, up=True)
        return [(subjects.MONITORING_REGISTERED, event)]

    def _deregister(self, cmd: DeregisterTarget) -> list[Reply]:
        target = self.targets.pop((cmd.job, cmd.vm_name), f"{cmd.address}:{cmd.port}")
        event = TargetDeregistered(activity_id=cmd.activity_id, job=cmd.job, vm_name=cmd.vm_name, target=target)
        return [(subjects.MONITORING_DEREGISTERED, event)]

    def _provision_alerts(self, cmd: ProvisionGroupAlerts) -> list[Reply]:
        self.alert_groups.add(cmd.group)
        names = (f"{cmd.group}_HighResourceUsage", f"{cmd.group}_LowResourceUsage")
        return [(subjects.MONITORING_ALERTS_PROVISIONED, GroupAlertsProvisioned(group=cmd.group, rule_names=names))]

    def _remove_alerts(self, cmd: RemoveGroupAlerts) -> list[Reply]:
        self.alert_groups.discard(cmd.group)
        self.silenced.pop(cmd.group, None)
        return [(subjects.MONITORING_ALERTS_REMOVED, GroupAlertsRemoved(group=cmd.group))]

    def _silence(self, cmd: SetScaleInSilence) -> list[Reply]:
        self.silenced[cmd.group] = cmd.active
        return []

    # -- queries --------------------------------------------------------------------------------

    def external_checks(self) -> dict[str, str]:
        return {
            "prometheus": "ok" if self.prometheus_up else "prometheus is unreachable: ConnectError",
            "alertmanager": "ok",
            "grafana": "ok" if self.grafana_up else "grafana is unreachable: ConnectError",
            "config_files": "ok",
        }

    def add_queries(self, router: NatsRouter, bus: Bus) -> None:
        self._add_health(router, bus)

        @bus.responder(router, subjects.QUERY_MONITORING_JOBS, "monitoring")
        async def jobs(query: MonitoringJobsQuery) -> MonitoringJobsReply:
            counts = self.target_counts()
            if not self.grafana_up:
                return MonitoringJobsReply(jobs=counts, dashboards_error="Grafana: grafana is unreachable")
            link = DashboardLink(
                kind="infrastructure",
                title="web monitoring",
                url="http://127.0.0.1:13000/d/dashboard-web/web-monitoring",
            )
            return MonitoringJobsReply(jobs=counts, dashboards={"web": (link,)})

        @bus.responder(router, subjects.QUERY_MONITORING_TARGETS, "monitoring")
        async def targets(query: MonitoringTargetsQuery) -> MonitoringTargetsReply:
            return MonitoringTargetsReply(
                targets=tuple(
                    TargetHealthInfo(
                        job=job, target=target, instance=target.rsplit(":", 1)[0], vm_name=vm_name, health="up"
                    )
                    for (job, vm_name), target in self.targets.items()
                    if job == query.job
                )
            )

        @bus.responder(router, subjects.QUERY_MONITORING_INSTANCE_METRICS, "monitoring")
        async def instance_metrics(query: InstanceMetricsQuery) -> InstanceMetricsReply:
            now = utcnow().timestamp()
            steps = range(query.minutes * 60 // query.step_s, -1, -1)
            instances = dict.fromkeys(t.rsplit(":", 1)[0] for (job, _), t in self.targets.items())
            return InstanceMetricsReply(
                series=tuple(
                    InstanceSeries(
                        instance=instance,
                        cpu=tuple((now - i * query.step_s, 20.0 + 10 * n) for i in steps),
                        memory=tuple((now - i * query.step_s, 35.0) for i in steps),
                    )
                    for n, instance in enumerate(instances)
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
            url = "http://127.0.0.1:6010/api/webhook/autoscale/web"
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
            return MonitoringSilencesReply(silences=(SILENCE,))

        @bus.responder(router, subjects.QUERY_MONITORING_ALERTS, "monitoring")
        async def alerts(query: MonitoringAlertsQuery) -> MonitoringAlertsReply:
            return MonitoringAlertsReply(alerts=self.alerts)
