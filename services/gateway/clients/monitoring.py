"""The monitoring service as the gateway asks it: Prometheus jobs, targets, rules, Alertmanager
(``query.monitoring.*``), and the target and agent commands (``cmd.monitoring.*``)."""

from __future__ import annotations

from services.gateway.clients.base import BackendClient
from shared import subjects
from shared.messages import (
    DeleteJob,
    DeregisterTarget,
    InstallAgents,
    InstanceMetricsQuery,
    InstanceMetricsReply,
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
    RegisterTarget,
)

__all__ = ["MonitoringClient"]


class MonitoringClient(BackendClient):
    """Typed calls to monitoring; every method raises what ``BackendClient`` documents."""

    async def jobs(self) -> MonitoringJobsReply:
        """Prometheus jobs with their target counts."""
        return await self._ask(subjects.QUERY_MONITORING_JOBS, MonitoringJobsQuery(), MonitoringJobsReply)

    async def targets(self, job: str) -> MonitoringTargetsReply:
        """A job's targets with health."""
        query = MonitoringTargetsQuery(job=job)
        return await self._ask(subjects.QUERY_MONITORING_TARGETS, query, MonitoringTargetsReply)

    async def instance_metrics(self, job: str, *, minutes: int, step_s: int) -> InstanceMetricsReply:
        """Each instance's CPU and memory use over time."""
        query = InstanceMetricsQuery(job=job, minutes=minutes, step_s=step_s)
        return await self._ask(subjects.QUERY_MONITORING_INSTANCE_METRICS, query, InstanceMetricsReply)

    async def rules(self) -> MonitoringRulesReply:
        """The alert rule groups vmscale wrote."""
        return await self._ask(subjects.QUERY_MONITORING_RULES, MonitoringRulesQuery(), MonitoringRulesReply)

    async def routes(self) -> MonitoringRoutesReply:
        """Alertmanager routes and receivers."""
        return await self._ask(subjects.QUERY_MONITORING_ROUTES, MonitoringRoutesQuery(), MonitoringRoutesReply)

    async def silences(self) -> MonitoringSilencesReply:
        """Active silences."""
        return await self._ask(subjects.QUERY_MONITORING_SILENCES, MonitoringSilencesQuery(), MonitoringSilencesReply)

    async def alerts(self) -> MonitoringAlertsReply:
        """Alertmanager's active alerts."""
        return await self._ask(subjects.QUERY_MONITORING_ALERTS, MonitoringAlertsQuery(), MonitoringAlertsReply)

    async def install_agents(self, command: InstallAgents) -> None:
        """Queue an agent batch (per-host progress arrives as ``monitoring.agent_progress``)."""
        await self._send(subjects.CMD_MONITORING_INSTALL_AGENTS, command)

    async def register_target(self, command: RegisterTarget) -> None:
        """Queue one target's registration."""
        await self._send(subjects.CMD_MONITORING_REGISTER, command)

    async def deregister_target(self, job: str, vm_name: str, address: str, port: int) -> None:
        """Queue the removal of one target."""
        command = DeregisterTarget(job=job, vm_name=vm_name, address=address, port=port)
        await self._send(subjects.CMD_MONITORING_DEREGISTER, command)

    async def delete_job(self, job: str) -> None:
        """Queue the removal of a job (and its dashboard)."""
        await self._send(subjects.CMD_MONITORING_DELETE_JOB, DeleteJob(job=job))
