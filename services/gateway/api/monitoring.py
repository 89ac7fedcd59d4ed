"""Node Exporter install (batch, progress on the events stream), Prometheus jobs and targets,
alert rules, Alertmanager routes, silences and alerts — all answered by the monitoring service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from services.gateway.api.params import JobName, VmName
from services.gateway.backend import ask, send
from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from shared import subjects
from shared.messages import (
    JOB_PATTERN,
    AgentHost,
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

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


class AgentBatch(BaseModel):
    """Install, uninstall or check one tool on many VMs (SSH credentials stay server-side)."""

    tool: Literal["node_exporter", "promtail", "jmx_exporter"] = "node_exporter"
    action: Literal["install", "uninstall", "status"] = "install"
    hosts: list[AgentHost] = Field(min_length=1, max_length=500)


class BatchAccepted(BaseModel):
    """The batch was queued; per-host progress arrives as ``monitoring.agent_progress`` events."""

    batch_id: str
    hosts: int


def _timeout(state: Any) -> float:
    return float(state.settings.backend_timeout_s)


@router.post("/api/v1/agents", response_model=BatchAccepted, status_code=202, summary="Agent install batch")
async def agents(body: AgentBatch, request: Request, state: State, me: Operator) -> BatchAccepted:
    """Queue a batch; follow ``monitoring.agent_progress`` on the events stream."""
    command = InstallAgents(
        tool=body.tool, action=body.action, hosts=tuple(body.hosts), correlation_id=uuid.uuid4().hex
    )
    await send(state.runtime.bus, subjects.CMD_MONITORING_INSTALL_AGENTS, command)
    await state.audit(me, f"agents.{body.action}", body.tool, client_address(request), hosts=len(body.hosts))
    return BatchAccepted(batch_id=str(command.correlation_id), hosts=len(body.hosts))


@router.get("/api/v1/prometheus/jobs", response_model=MonitoringJobsReply, summary="Prometheus jobs")
async def jobs(state: State, _: Viewer) -> MonitoringJobsReply:
    """Jobs with their target counts."""
    reply: MonitoringJobsReply = await ask(
        state.runtime.bus, subjects.QUERY_MONITORING_JOBS, MonitoringJobsQuery(), _timeout(state)
    )
    return reply


@router.get("/api/v1/prometheus/targets", response_model=MonitoringTargetsReply, summary="Targets with health")
async def targets(state: State, _: Viewer, job: Annotated[str, Query(min_length=1, max_length=128)]) -> Any:
    """A job's targets with health, last error and last scrape."""
    return await ask(
        state.runtime.bus, subjects.QUERY_MONITORING_TARGETS, MonitoringTargetsQuery(job=job), _timeout(state)
    )


class TargetRegistration(BaseModel):
    """A VM to scrape in a job (registers the job when it is new)."""

    vm_name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    address: str = Field(min_length=1, max_length=64)
    port: int = Field(default=9100, ge=1, le=65535, strict=True)
    labels: dict[str, str] = Field(default_factory=dict)
    install_exporter: bool = Field(default=False, strict=True)
    """Install (or verify) Node Exporter on the VM over SSH first."""


class TargetsAccepted(BaseModel):
    """The registrations were queued; ``monitoring.registered`` events follow per target."""

    job: str
    queued: int


@router.post(
    "/api/v1/prometheus/jobs/{job}/targets",
    response_model=TargetsAccepted,
    status_code=202,
    summary="Register VMs as targets of a job (grouped mode)",
)
async def register_targets(
    job: JobName,
    body: Annotated[list[TargetRegistration], Body(min_length=1, max_length=500)],
    request: Request,
    state: State,
    me: Operator,
) -> TargetsAccepted:
    """Queue one registration per VM (1 to 500); each target gets ``instance`` = its address."""
    for target in body:
        command = RegisterTarget(
            job=job,
            vm_name=target.vm_name,
            address=target.address,
            port=target.port,
            labels=target.labels,
            install_exporter=target.install_exporter,
        )
        await send(state.runtime.bus, subjects.CMD_MONITORING_REGISTER, command)
    await state.audit(me, "prometheus.register_targets", job, client_address(request), targets=len(body))
    return TargetsAccepted(job=job, queued=len(body))


@router.delete("/api/v1/prometheus/jobs/{job}/targets/{vm_name}", status_code=202, summary="Deregister a VM")
async def deregister_target(
    job: JobName,
    vm_name: VmName,
    request: Request,
    state: State,
    me: Operator,
    address: Annotated[str, Query(min_length=1, max_length=64)],
    port: Annotated[int, Query(ge=1, le=65535)] = 9100,
) -> dict[str, str]:
    """Queue the removal of one VM's target."""
    command = DeregisterTarget(job=job, vm_name=vm_name, address=address, port=port)
    await send(state.runtime.bus, subjects.CMD_MONITORING_DEREGISTER, command)
    await state.audit(me, "prometheus.deregister_target", f"{job}/{vm_name}", client_address(request))
    return {"job": job, "vm_name": vm_name, "status": "queued"}


@router.delete("/api/v1/prometheus/jobs/{job}", status_code=202, summary="Delete a Prometheus job")
async def delete_job(job: JobName, request: Request, state: State, me: Admin) -> dict[str, str]:
    """Queue the removal of a job (and its dashboard)."""
    await send(state.runtime.bus, subjects.CMD_MONITORING_DELETE_JOB, DeleteJob(job=job))
    await state.audit(me, "prometheus.delete_job", job, client_address(request))
    return {"job": job, "status": "queued"}


@router.get("/api/v1/prometheus/usage", response_model=InstanceMetricsReply, summary="Per-instance CPU and memory")
async def usage(
    state: State,
    _: Viewer,
    job: Annotated[str, Query(min_length=1, max_length=128, pattern=JOB_PATTERN)],
    minutes: Annotated[int, Query(ge=1, le=1440)] = 15,
    step_s: Annotated[int, Query(ge=1, le=3600)] = 15,
) -> Any:
    """Each instance's CPU and memory use over time, computed as the alert rules compute them."""
    query = InstanceMetricsQuery(job=job, minutes=minutes, step_s=step_s)
    return await ask(state.runtime.bus, subjects.QUERY_MONITORING_INSTANCE_METRICS, query, _timeout(state))


@router.get("/api/v1/prometheus/rules", response_model=MonitoringRulesReply, summary="Alert rules")
async def rules(state: State, _: Viewer) -> Any:
    """The rule groups vmscale wrote."""
    return await ask(state.runtime.bus, subjects.QUERY_MONITORING_RULES, MonitoringRulesQuery(), _timeout(state))


@router.get("/api/v1/alertmanager/routes", response_model=MonitoringRoutesReply, summary="Alertmanager routes")
async def routes(state: State, _: Viewer) -> Any:
    """Routes and receivers (always the gateway's webhook, never Jenkins)."""
    return await ask(state.runtime.bus, subjects.QUERY_MONITORING_ROUTES, MonitoringRoutesQuery(), _timeout(state))


@router.get("/api/v1/alertmanager/silences", response_model=MonitoringSilencesReply, summary="Silences")
async def silences(state: State, _: Viewer) -> Any:
    """Active silences (scale-in silences included)."""
    return await ask(state.runtime.bus, subjects.QUERY_MONITORING_SILENCES, MonitoringSilencesQuery(), _timeout(state))


@router.get("/api/v1/alerts", response_model=MonitoringAlertsReply, summary="Active alerts")
async def alerts(state: State, _: Viewer) -> Any:
    """Alertmanager's active alerts."""
    return await ask(state.runtime.bus, subjects.QUERY_MONITORING_ALERTS, MonitoringAlertsQuery(), _timeout(state))


for _path, _endpoint in (
    ("/api/prometheus/jobs", jobs),
    ("/api/prometheus/targets", targets),
    ("/api/alertmanager/routing-rules", routes),
    ("/api/alerts", alerts),
):
    router.add_api_route(_path, _endpoint, methods=["GET"], deprecated=True, tags=["original"])
