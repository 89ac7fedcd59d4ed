"""Node Exporter install (batch, progress on the events stream), Prometheus jobs and targets,
alert rules, Alertmanager routes, silences and alerts — all answered by the monitoring service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from services.gateway.agent_scope import check_agent_hosts
from services.gateway.api.params import JobName, VmName
from services.gateway.auth.model import Role
from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from services.gateway.errors import Forbidden
from services.gateway.history import MAX_POINTS, window_of
from shared.errors import InvalidInput
from shared.messages import (
    JOB_PATTERN,
    AgentHost,
    InstallAgents,
    InstanceMetricsReply,
    MonitoringAlertsReply,
    MonitoringJobsReply,
    MonitoringRoutesReply,
    MonitoringRulesReply,
    MonitoringSilencesReply,
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


@router.post(
    "/api/v1/agents",
    response_model=BatchAccepted,
    status_code=202,
    summary="Agent install batch",
    responses={403: {"description": "An address vmscale does not manage, or uninstall / Promtail without admin"}},
)
async def agents(body: AgentBatch, request: Request, state: State, me: Operator) -> BatchAccepted:
    """Queue a batch; follow ``monitoring.agent_progress`` on the events stream.

    Only to addresses vmscale manages (a VM's guest IP, an IP-pool address or an allow-listed
    CIDR); anything else is refused before any SSH connection. Uninstall and Promtail (it ships
    the VM's logs off the host) need the admin role.
    """
    if (body.action == "uninstall" or body.tool == "promtail") and not me.role.allows(Role.ADMIN):
        what = "uninstalling an agent" if body.action == "uninstall" else "Promtail"
        raise Forbidden(f"{what} needs the admin role", field=Role.ADMIN.value)
    await check_agent_hosts(state.scaler, state.inventory, body.hosts, state.settings.agent_allowed_cidrs)
    command = InstallAgents(
        tool=body.tool, action=body.action, hosts=tuple(body.hosts), correlation_id=uuid.uuid4().hex
    )
    await state.monitoring.install_agents(command)
    await state.audit(me, f"agents.{body.action}", body.tool, client_address(request), hosts=len(body.hosts))
    return BatchAccepted(batch_id=str(command.correlation_id), hosts=len(body.hosts))


@router.get("/api/v1/prometheus/jobs", response_model=MonitoringJobsReply, summary="Prometheus jobs")
async def jobs(state: State, _: Viewer) -> MonitoringJobsReply:
    """Jobs with their target counts."""
    return await state.monitoring.jobs()


@router.get("/api/v1/prometheus/targets", response_model=MonitoringTargetsReply, summary="Targets with health")
async def targets(state: State, _: Viewer, job: Annotated[str, Query(min_length=1, max_length=128)]) -> Any:
    """A job's targets with health, last error and last scrape."""
    return await state.monitoring.targets(job)


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
        await state.monitoring.register_target(command)
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
    await state.monitoring.deregister_target(job, vm_name, address, port)
    await state.audit(me, "prometheus.deregister_target", f"{job}/{vm_name}", client_address(request))
    return {"job": job, "vm_name": vm_name, "status": "queued"}


@router.delete("/api/v1/prometheus/jobs/{job}", status_code=202, summary="Delete a Prometheus job")
async def delete_job(job: JobName, request: Request, state: State, me: Admin) -> dict[str, str]:
    """Queue the removal of a job (and its dashboard)."""
    await state.monitoring.delete_job(job)
    await state.audit(me, "prometheus.delete_job", job, client_address(request))
    return {"job": job, "status": "queued"}


@router.get("/api/v1/prometheus/usage", response_model=InstanceMetricsReply, summary="Per-instance CPU and memory")
async def usage(
    state: State,
    _: Viewer,
    job: Annotated[str, Query(min_length=1, max_length=128, pattern=JOB_PATTERN)],
    minutes: Annotated[int, Query(ge=1, le=10080)] = 15,
    step_s: Annotated[int, Query(ge=1, le=3600)] = 15,
    window: Annotated[str | None, Query(alias="range", max_length=8, description="15m, 1h, 6h, 24h or 7d")] = None,
) -> Any:
    """Each instance's CPU and memory use over time, computed as the alert rules compute them.

    ``range`` (a preset) sets the minutes and a step that keeps about 240 points; otherwise
    ``minutes`` (up to 7 days) and ``step_s``, at most 11,000 points (what Prometheus answers).
    """
    if window is not None:
        preset = window_of(window)
        minutes, step_s = preset.minutes, preset.step_s
    elif minutes * 60 // step_s > MAX_POINTS:
        least = -(-minutes * 60 // MAX_POINTS)
        raise InvalidInput(
            f"{minutes} minutes at {step_s} s is over {MAX_POINTS} points: use step_s of {least} or more",
            fields=(("step_s", f"at least {least} for {minutes} minutes"),),
        )
    return await state.monitoring.instance_metrics(job, minutes=minutes, step_s=step_s)


@router.get("/api/v1/prometheus/rules", response_model=MonitoringRulesReply, summary="Alert rules")
async def rules(state: State, _: Viewer) -> Any:
    """The rule groups vmscale wrote."""
    return await state.monitoring.rules()


@router.get("/api/v1/alertmanager/routes", response_model=MonitoringRoutesReply, summary="Alertmanager routes")
async def routes(state: State, _: Viewer) -> Any:
    """Routes and receivers (always the gateway's webhook, never Jenkins)."""
    return await state.monitoring.routes()


@router.get("/api/v1/alertmanager/silences", response_model=MonitoringSilencesReply, summary="Silences")
async def silences(state: State, _: Viewer) -> Any:
    """Active silences (scale-in silences included)."""
    return await state.monitoring.silences()


@router.get("/api/v1/alerts", response_model=MonitoringAlertsReply, summary="Active alerts")
async def alerts(state: State, _: Viewer) -> Any:
    """Alertmanager's active alerts."""
    return await state.monitoring.alerts()


for _path, _endpoint in (
    ("/api/prometheus/jobs", jobs),
    ("/api/prometheus/targets", targets),
    ("/api/alertmanager/routing-rules", routes),
    ("/api/alerts", alerts),
):
    router.add_api_route(_path, _endpoint, methods=["GET"], deprecated=True, tags=["original"])
