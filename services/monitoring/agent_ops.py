"""Agent use cases: which spec and artifact each tool gets, and batches with progress events.

Specs come from the settings (ports, prefix, Loki URL, the Java service's JMX port). Promtail's
spec is a builder given the VM's own host name, so an install and a later update (a re-run
after the Loki URL changed) render through the same function. Artifacts are resolved once per
batch, verified, and only then copied to any host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import PurePosixPath

from services.monitoring.agent_specs import AgentSpec, jmx_exporter_spec, node_exporter_spec, promtail_spec
from services.monitoring.agents import AgentInstaller, Artifact, HostResult, SpecBuilder
from services.monitoring.artifacts import Artifacts
from services.monitoring.settings import MonitoringSettings
from shared.errors import InvalidInput
from shared.messages import AgentProgress, AgentsInstalled, InstallAgents, deterministic_id
from shared.telemetry import get_logger

log = get_logger(__name__)

__all__ = ["AgentOperations"]

TOOLS = ("node_exporter", "promtail", "jmx_exporter")


class AgentOperations:
    """Install, update, check and remove agents on VMs."""

    def __init__(self, settings: MonitoringSettings, installer: AgentInstaller, artifacts: Artifacts) -> None:
        self.settings = settings
        self.installer = installer
        self.artifacts = artifacts

    @property
    def _prefix(self) -> PurePosixPath:
        return PurePosixPath(str(self.settings.agent_prefix))

    def builder(self, tool: str, *, port: int | None = None, jmx_port: int | None = None) -> SpecBuilder:
        """The spec builder of ``tool`` (host name → spec); ``InvalidInput`` for an unknown tool."""
        s = self.settings
        if tool == "node_exporter":
            spec = node_exporter_spec(self._prefix, listen_host=s.agent_listen_host, port=port or s.node_exporter_port)
            return lambda _hostname: spec
        if tool == "promtail":
            return partial(self._promtail, port=port or s.promtail_port)
        if tool == "jmx_exporter":
            jmx = jmx_exporter_spec(
                self._prefix,
                port=port or s.jmx_exporter_port,
                jmx_port=jmx_port or s.jmx_target_port,
                listen_host=s.agent_listen_host,
                java=s.java,
            )
            return lambda _hostname: jmx
        raise InvalidInput("unknown agent tool", tool=tool, known=list(TOOLS))

    def _promtail(self, hostname: str, *, port: int) -> AgentSpec:
        return promtail_spec(
            self._prefix,
            hostname=hostname,
            loki_url=self.settings.loki_url,
            port=port,
            sensitive=self.settings.promtail_sensitive_logs,
        )

    def spec(self, tool: str, *, port: int | None = None) -> AgentSpec:
        """The spec of ``tool`` for status and uninstall (paths, unit, port; no host name needed)."""
        return self.builder(tool, port=port)("localhost")

    async def install(
        self, tool: str, address: str, *, port: int | None = None, jmx_port: int | None = None
    ) -> HostResult:
        """Install (or verify) one agent on one VM; the artifact is verified before any copy."""
        artifact = await self.artifacts.get(tool)
        builder = self.builder(tool, port=port, jmx_port=jmx_port)
        target: AgentSpec | SpecBuilder = builder if tool == "promtail" else builder("")
        return await self.installer.install(address, target, artifact)

    async def run_batch(self, cmd: InstallAgents) -> AsyncIterator[AgentProgress | AgentsInstalled]:
        """Run the batch; yield one ``AgentProgress`` per host as it finishes, then the summary."""
        if not cmd.hosts:
            raise InvalidInput("an agent batch needs at least one host")
        names = {host.address: host.vm_name for host in cmd.hosts}
        builder = self.builder(cmd.tool)
        spec = builder("localhost")
        artifact: Artifact | None = await self.artifacts.get(cmd.tool) if cmd.action == "install" else None

        async def operate(address: str, port: int | None) -> HostResult:
            if artifact is not None:
                target: AgentSpec | SpecBuilder = builder if cmd.tool == "promtail" else spec
                return await self.installer.install(address, target, artifact, port)
            if cmd.action == "uninstall":
                return await self.installer.uninstall(address, spec, port)
            return HostResult(address, ok=True, status=await self.installer.status(address, spec, port))

        batch_id = str(cmd.message_id)
        succeeded: list[str] = []
        failed: list[str] = []
        hosts = [(host.address, host.port) for host in cmd.hosts]
        async for result in self.installer.batch(hosts, operate, self.settings.install_concurrency):
            (succeeded if result.ok else failed).append(names[result.host])
            if not result.ok:  # the event says it too; the log is where an operator looks first
                log.warning(
                    "agent operation failed",
                    tool=cmd.tool,
                    action=cmd.action,
                    vm_name=names[result.host],
                    address=result.host,
                    error_kind=result.error_kind,
                    reason=result.reason,
                )
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
