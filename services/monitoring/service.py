"""The monitoring use cases behind the bus: one method per command, each returning its event.

Handlers stay thin: they validate the message, call one method here and publish what it
returns (``handlers/``). Everything is idempotent by natural key (target, group, job), so a
redelivered command repeats nothing visible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from services.monitoring.agent_ops import AgentOperations
from services.monitoring.agents import AgentInstaller
from services.monitoring.alerting import Alerting
from services.monitoring.artifacts import Artifacts
from services.monitoring.domain import (
    Target,
    dashboard_uid,
    infrastructure_dashboard,
    jvm_dashboard,
    jvm_dashboard_uid,
)
from services.monitoring.ports import Dashboards
from services.monitoring.registry import TargetRegistry
from services.monitoring.settings import MonitoringSettings
from shared.errors import OperationTimeout, VmscaleError
from shared.messages import (
    AgentProgress,
    AgentsInstalled,
    DashboardLink,
    DeleteJob,
    DeregisterTarget,
    GroupAlertsProvisioned,
    GroupAlertsRemoved,
    InstallAgents,
    JmxExporterRegistered,
    JobDeleted,
    ProvisionGroupAlerts,
    RegisterJmxExporter,
    RegisterTarget,
    RemoveGroupAlerts,
    ScaleInSilenceSet,
    SetScaleInSilence,
    TargetDeregistered,
    TargetRegistered,
    deterministic_id,
)
from shared.telemetry import get_logger

__all__ = ["MonitoringService"]

log = get_logger(__name__)


class MonitoringService:
    """Registration, alerting, dashboards and agents, as the commands ask for them."""

    def __init__(
        self,
        settings: MonitoringSettings,
        registry: TargetRegistry,
        alerting: Alerting,
        dashboards: Dashboards | None,
        installer: AgentInstaller,
        artifacts: Artifacts,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.alerting = alerting
        self.dashboards = dashboards
        self.installer = installer
        self.agents = AgentOperations(settings, installer, artifacts)

    # -- targets ------------------------------------------------------------------------------

    async def register(
        self, cmd: RegisterTarget, keepalive: Callable[[], Awaitable[None]] | None = None
    ) -> TargetRegistered:
        """Install the exporter if asked, add the target, create the job's dashboard, and with
        ``wait_up`` block until Prometheus reports the target up (``OperationTimeout`` if not)."""
        labels = dict(cmd.labels)
        if cmd.group:
            labels.setdefault("group", cmd.group)
        target = Target.build(cmd.job, cmd.address, cmd.port, labels, vm_name=cmd.vm_name)
        if cmd.install_exporter:
            await self.agents.install("node_exporter", cmd.address, port=cmd.port)
        outcome = await self.registry.add(target)
        if outcome.job_created:
            await self._dashboard(target)
        up = await self._wait_up(target, cmd.timeout_s, keepalive) if cmd.wait_up else False
        return TargetRegistered(
            message_id=deterministic_id("target-registered", cmd.message_id),
            activity_id=cmd.activity_id,
            job=cmd.job,
            vm_name=cmd.vm_name,
            target=target.key,
            up=up,
            **cmd.caused_by(cmd),
        )

    async def _wait_up(self, target: Target, timeout_s: float, keepalive: Callable[[], Awaitable[None]] | None) -> bool:
        """Block until Prometheus reports ``target`` up, telling the bus we are alive every 10 s."""
        deadline_s, step = timeout_s, 10.0
        while True:
            try:
                await self.registry.wait_up(
                    target.job, target.key, min(step, deadline_s), self.settings.register_poll_interval_s
                )
                return True
            except OperationTimeout:
                deadline_s -= step
                if deadline_s <= 0:
                    raise
                if keepalive is not None:
                    await keepalive()

    async def register_jmx(
        self, cmd: RegisterJmxExporter, keepalive: Callable[[], Awaitable[None]] | None = None
    ) -> JmxExporterRegistered:
        """Install the JMX exporter if asked, add its target to its own job, create the job's
        JVM dashboard, and with ``wait_up`` block until Prometheus scrapes it."""
        port = cmd.port or self.settings.jmx_exporter_port
        labels = {"service": "jmx-exporter", **cmd.labels}
        if cmd.group:
            labels.setdefault("group", cmd.group)
        target = Target.build(cmd.job, cmd.address, port, labels, vm_name=cmd.vm_name)
        if cmd.install_exporter:
            await self.agents.install("jmx_exporter", cmd.address, port=port, jmx_port=cmd.jmx_port)
        await self.registry.add(target)
        uid = await self._upsert(jvm_dashboard(cmd.job, datasource_uid=self.settings.grafana_datasource_uid))
        up = await self._wait_up(target, cmd.timeout_s, keepalive) if cmd.wait_up else False
        return JmxExporterRegistered(
            message_id=deterministic_id("jmx-registered", cmd.message_id),
            activity_id=cmd.activity_id,
            job=cmd.job,
            vm_name=cmd.vm_name,
            target=target.key,
            up=up,
            dashboard_uid=uid,
            **cmd.caused_by(cmd),
        )

    async def dashboard_links(self, jobs: Iterable[str]) -> dict[str, tuple[DashboardLink, ...]]:
        """Each job's dashboards that Grafana has (none without Grafana), as absolute URLs."""
        if self.dashboards is None:
            return {}
        listed = await self.dashboards.listed()
        base = self.settings.grafana_url.rstrip("/")
        links: dict[str, tuple[DashboardLink, ...]] = {}
        for job in jobs:
            found = [
                DashboardLink(kind=kind, title=listed[uid][0], url=base + listed[uid][1])
                for kind, uid in (("infrastructure", dashboard_uid(job)), ("jvm", jvm_dashboard_uid(job)))
                if uid in listed
            ]
            if found:
                links[job] = tuple(found)
        return links

    async def _upsert(self, model: dict[str, Any]) -> str | None:
        """Create or update a dashboard in its folder; a dashboard never fails a registration."""
        if self.dashboards is None:
            return None
        try:
            await self.dashboards.upsert(model, self.settings.grafana_folder_uid or None)
        except VmscaleError as exc:  # the original's rule: dashboard errors are reported, not fatal
            log.warning("dashboard not created", uid=model["uid"], error=str(exc))
            return None
        return str(model["uid"])

    async def _dashboard(self, target: Target) -> None:
        await self._upsert(
            infrastructure_dashboard(
                target.job,
                service=target.labels.get("service", ""),
                environment=target.labels.get("environment", ""),
                datasource_uid=self.settings.grafana_datasource_uid,
            )
        )

    async def deregister(self, cmd: DeregisterTarget) -> TargetDeregistered:
        """Remove the VM's target (a missing one is success) and forget the address's host keys:
        the VM is leaving, and the next VM the IP pool gives the address to has keys of its own."""
        await self.registry.remove(cmd.job, cmd.address, cmd.port)
        await self.installer.forget_host(cmd.address)
        return TargetDeregistered(
            message_id=deterministic_id("target-deregistered", cmd.message_id),
            activity_id=cmd.activity_id,
            job=cmd.job,
            vm_name=cmd.vm_name,
            target=f"{cmd.address}:{cmd.port}",
            **cmd.caused_by(cmd),
        )

    async def delete_job(self, cmd: DeleteJob) -> JobDeleted:
        """Delete the job's file and its dashboards."""
        existed = await self.registry.delete_job(cmd.job)
        if self.dashboards is not None:  # the infrastructure and, for JMX jobs, the JVM dashboard
            await self.dashboards.delete(dashboard_uid(cmd.job))
            await self.dashboards.delete(jvm_dashboard_uid(cmd.job))
        return JobDeleted(job=cmd.job, existed=existed, **cmd.caused_by(cmd))

    # -- alerting -----------------------------------------------------------------------------

    async def provision(self, cmd: ProvisionGroupAlerts) -> GroupAlertsProvisioned:
        """(Re)write the group's rules and routes."""
        result = await self.alerting.provision(
            cmd.group, cmd.rules, cmd.webhook_url, cmd.repeat_interval_s, config_id=cmd.config_id
        )
        return GroupAlertsProvisioned(group=cmd.group, rule_names=result.rule_names, **cmd.caused_by(cmd))

    async def remove_alerts(self, cmd: RemoveGroupAlerts) -> GroupAlertsRemoved:
        """Delete the group's rules, routes and scale-in silence."""
        await self.alerting.remove(cmd.group)
        await self.alerting.set_scale_in_silence(cmd.group, False)
        return GroupAlertsRemoved(group=cmd.group, **cmd.caused_by(cmd))

    async def silence(self, cmd: SetScaleInSilence) -> ScaleInSilenceSet:
        """Silence or unsilence the group's scale-in alert (one silence per group)."""
        silence_id = await self.alerting.set_scale_in_silence(cmd.group, cmd.active, cmd.reason)
        return ScaleInSilenceSet(group=cmd.group, active=cmd.active, silence_id=silence_id, **cmd.caused_by(cmd))

    # -- agents -------------------------------------------------------------------------------

    async def install_agents(self, cmd: InstallAgents) -> AsyncIterator[AgentProgress | AgentsInstalled]:
        """Run the batch; yield one ``AgentProgress`` per host as it finishes, then the summary."""
        async for event in self.agents.run_batch(cmd):
            yield event

    async def annotate(self, group: str, text: str, tags: list[str]) -> None:
        """A Grafana annotation for a scale activity (skipped without Grafana)."""
        if self.dashboards is not None:
            await self.dashboards.annotate(text, ["vmscale", group, *tags])
