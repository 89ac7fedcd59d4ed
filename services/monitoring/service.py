"""The monitoring use cases behind the bus: one method per command, each returning its event.

Handlers stay thin: they validate the message, call one method here and publish what it
returns (``handlers/``). Everything is idempotent by natural key (target, group, job), so a
redelivered command repeats nothing visible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path, PurePosixPath

from services.monitoring.agent_specs import AgentSpec, jmx_exporter_spec, node_exporter_spec, promtail_spec
from services.monitoring.agents import AgentInstaller, Artifact, HostResult
from services.monitoring.alerting import Alerting
from services.monitoring.domain import Target, dashboard_uid, infrastructure_dashboard
from services.monitoring.ports import Dashboards
from services.monitoring.registry import TargetRegistry
from services.monitoring.settings import MonitoringSettings
from shared.errors import ConfigurationError, InvalidInput, OperationTimeout, VmscaleError
from shared.messages import (
    AgentProgress,
    AgentsInstalled,
    DeleteJob,
    DeregisterTarget,
    GroupAlertsProvisioned,
    GroupAlertsRemoved,
    InstallAgents,
    JobDeleted,
    ProvisionGroupAlerts,
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
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.alerting = alerting
        self.dashboards = dashboards
        self.installer = installer

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
            spec = node_exporter_spec(PurePosixPath(str(self.settings.agent_prefix)), port=cmd.port)
            await self.installer.install(cmd.address, spec, self.artifact("node_exporter"))
        outcome = await self.registry.add(target)
        if outcome.job_created:
            await self._dashboard(target)
        up = False
        if cmd.wait_up:
            deadline_s, step = cmd.timeout_s, 10.0
            while True:
                try:
                    await self.registry.wait_up(
                        cmd.job, target.key, min(step, deadline_s), self.settings.register_poll_interval_s
                    )
                    up = True
                    break
                except OperationTimeout:
                    deadline_s -= step
                    if deadline_s <= 0:
                        raise
                    if keepalive is not None:
                        await keepalive()
        return TargetRegistered(
            message_id=deterministic_id("target-registered", cmd.message_id),
            activity_id=cmd.activity_id,
            job=cmd.job,
            vm_name=cmd.vm_name,
            target=target.key,
            up=up,
            **cmd.caused_by(cmd),
        )

    async def _dashboard(self, target: Target) -> None:
        if self.dashboards is None:
            return
        model = infrastructure_dashboard(
            target.job,
            service=target.labels.get("service", ""),
            environment=target.labels.get("environment", ""),
            datasource_uid=self.settings.grafana_datasource_uid,
        )
        try:
            await self.dashboards.upsert(model, self.settings.grafana_folder_uid or None)
        except VmscaleError as exc:  # a dashboard never fails a registration (original rule)
            log.warning("dashboard not created", job=target.job, error=str(exc))

    async def deregister(self, cmd: DeregisterTarget) -> TargetDeregistered:
        """Remove the VM's target; a missing one is success."""
        await self.registry.remove(cmd.job, cmd.address, cmd.port)
        return TargetDeregistered(
            message_id=deterministic_id("target-deregistered", cmd.message_id),
            activity_id=cmd.activity_id,
            job=cmd.job,
            vm_name=cmd.vm_name,
            target=f"{cmd.address}:{cmd.port}",
            **cmd.caused_by(cmd),
        )

    async def delete_job(self, cmd: DeleteJob) -> JobDeleted:
        """Delete the job's file and its dashboard."""
        existed = await self.registry.delete_job(cmd.job)
        if self.dashboards is not None:
            await self.dashboards.delete(dashboard_uid(cmd.job))
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

    def artifact(self, tool: str) -> Artifact:
        """The binary of ``tool`` from its configured artifact path (checksum verified later)."""
        if tool != "node_exporter":
            raise ConfigurationError("no artifact configured for this tool", tool=tool)
        path = self.settings.node_exporter_artifact
        if path is None:
            raise ConfigurationError("node_exporter_artifact is not set")
        return Artifact(Path(path).read_bytes(), self.settings.node_exporter_sha256)

    def spec(self, tool: str, hostname: str) -> AgentSpec:
        """The agent spec of ``tool`` for one VM."""
        prefix = PurePosixPath(str(self.settings.agent_prefix))
        if tool == "node_exporter":
            return node_exporter_spec(prefix, port=self.settings.node_exporter_port)
        if tool == "promtail":
            return promtail_spec(prefix, hostname=hostname, loki_url=self.settings.loki_url)
        if tool == "jmx_exporter":
            return jmx_exporter_spec(prefix, port=self.settings.jmx_exporter_port)
        raise InvalidInput("unknown agent tool", tool=tool)

    async def install_agents(self, cmd: InstallAgents) -> AsyncIterator[AgentProgress | AgentsInstalled]:
        """Run the batch; yield one ``AgentProgress`` per host as it finishes, then the summary."""
        if not cmd.hosts:
            raise InvalidInput("an agent batch needs at least one host")
        names = {host.address: host.vm_name for host in cmd.hosts}
        artifact = self.artifact(cmd.tool) if cmd.action == "install" else None

        async def operate(address: str, port: int | None) -> HostResult:
            spec = self.spec(cmd.tool, names[address])
            if cmd.action == "install" and artifact is not None:
                return await self.installer.install(address, spec, artifact, port)
            if cmd.action == "uninstall":
                return await self.installer.uninstall(address, spec, port)
            return HostResult(address, ok=True, status=await self.installer.status(address, spec, port))

        batch_id = str(cmd.message_id)
        succeeded: list[str] = []
        failed: list[str] = []
        hosts = [(host.address, host.port) for host in cmd.hosts]
        async for result in self.installer.batch(hosts, operate, self.settings.install_concurrency):
            (succeeded if result.ok else failed).append(names[result.host])
            yield AgentProgress(
                message_id=deterministic_id("agent", batch_id, result.host),
                batch_id=batch_id,
                vm_name=names[result.host],
                address=result.host,
                tool=cmd.tool,
                action=cmd.action,
                ok=result.ok,
                changed=result.changed,
                status=result.status,
                error_kind=result.error_kind,
                reason=result.reason,
                **cmd.caused_by(cmd),
            )
        yield AgentsInstalled(
            message_id=deterministic_id("agents", batch_id),
            batch_id=batch_id,
            tool=cmd.tool,
            action=cmd.action,
            succeeded=tuple(succeeded),
            failed=tuple(failed),
            **cmd.caused_by(cmd),
        )

    async def annotate(self, group: str, text: str, tags: list[str]) -> None:
        """A Grafana annotation for a scale activity (skipped without Grafana)."""
        if self.dashboards is not None:
            await self.dashboards.annotate(text, ["vmscale", group, *tags])
