"""``/api/v1/system/status``: every service's health and each external system as its owner sees it."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.gateway.deps import State, Viewer
from shared import subjects
from shared.errors import VmscaleError
from shared.messages import HealthQuery, HealthReply

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["system"])


class ServiceStatus(BaseModel):
    """One service: its own health answer (checks include its external systems) and heartbeat."""

    service: str
    healthy: bool
    latency_ms: float | None
    checks: dict[str, str]
    heartbeat_age_s: float | None
    error: str | None = None


class ExternalSystem(BaseModel):
    """One external system as the service that drives it sees it."""

    name: str = Field(description="vcenter, f5 or haproxy, prometheus, alertmanager, grafana, jenkins, config_files")
    owner: str = Field(description="the service that talks to it")
    state: Literal["ok", "failing", "unknown", "not configured"]
    detail: str | None = Field(default=None, description="what is wrong, when it is not ok")
    latency_ms: float | None = Field(default=None, description="one round trip, as the owner measured it")


class SystemStatus(BaseModel):
    """The whole system at a glance."""

    services: list[ServiceStatus]
    systems: list[ExternalSystem]
    vcenter: dict[str, Any] | None
    dead_letters: dict[str, int] | None = Field(
        default=None, description="dead letters stored, by original subject ({} when none); null when NATS did not say"
    )


# what each service drives; Grafana and Jenkins are optional, the others always configured
OWNED: dict[str, tuple[str, ...]] = {
    "inventory": ("vcenter",),
    "loadbalancer": ("load balancer",),
    "monitoring": ("prometheus", "alertmanager", "grafana", "config_files"),
    "scaler": ("jenkins",),
}
OPTIONAL = frozenset({"grafana", "jenkins"})
ORDER = (
    "vcenter",
    "load balancer",
    "f5",
    "haproxy",
    "prometheus",
    "alertmanager",
    "grafana",
    "jenkins",
    "config_files",
)
"""How the page lists them: the path a scale-out takes, then the optional ones and the files."""


def external_systems(service: str, reply: HealthReply | None) -> list[ExternalSystem]:
    """The systems ``service`` drives: as it reported them, or unknown when it did not answer."""
    if reply is None:
        detail = f"{service} did not answer"
        return [ExternalSystem(name=name, owner=service, state="unknown", detail=detail) for name in OWNED[service]]
    out = [
        ExternalSystem(
            name=name,
            owner=service,
            state="ok" if reply.checks.get(name) == "ok" else "failing",
            detail=None if reply.checks.get(name) == "ok" else reply.checks.get(name, "not checked"),
            latency_ms=reply.latency_ms.get(name),
        )
        for name in reply.external
    ]
    missing = sorted(OPTIONAL.intersection(OWNED[service]) - set(reply.external))
    return out + [ExternalSystem(name=name, owner=service, state="not configured") for name in missing]


async def _health(state: Any, service: str) -> tuple[ServiceStatus, list[ExternalSystem]]:
    started = time.perf_counter()
    try:
        reply: HealthReply = await state.runtime.bus.request(subjects.health_query(service), HealthQuery(), timeout=3.0)
    except VmscaleError as exc:
        status = ServiceStatus(
            service=service, healthy=False, latency_ms=None, checks={}, heartbeat_age_s=None, error=exc.message
        )
        return status, _owned(service, None)
    status = ServiceStatus(
        service=service,
        healthy=reply.healthy,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        checks=dict(reply.checks),
        heartbeat_age_s=None,
    )
    return status, _owned(service, reply)


def _owned(service: str, reply: HealthReply | None) -> list[ExternalSystem]:
    """The external systems of ``service`` (the gateway drives none)."""
    return external_systems(service, reply) if service in OWNED else []


async def _dead_letters(state: Any) -> dict[str, int] | None:
    """The dead letters stored, by original subject; None when the stream could not be read."""
    try:
        counts: dict[str, int] = await state.dead_letters.counts()
    except VmscaleError:
        return None
    return counts


@router.get("/system/status", response_model=SystemStatus, summary="Connectivity and health of everything")
async def system_status(state: State, _: Viewer) -> SystemStatus:
    """Each service's health, and every external system as the service that drives it sees it."""
    ages = {item.service: item.age_s for item in state.board.liveness()}
    results, dead_letters = await asyncio.gather(
        asyncio.gather(*(_health(state, service) for service in subjects.SERVICES)), _dead_letters(state)
    )
    services = [item.model_copy(update={"heartbeat_age_s": ages.get(item.service)}) for item, _ in results]
    systems = sorted(
        (system for _, owned in results for system in owned),
        key=lambda s: (ORDER.index(s.name) if s.name in ORDER else len(ORDER), s.name),
    )
    vcenter: dict[str, Any] | None = None
    try:
        reply = await state.inventory.with_timeout(2.0).status()
    except VmscaleError:
        # no answer, or an answer with an error, tells nothing about vCenter: unknown, not "disconnected"
        vcenter = None
    else:
        vcenter = reply.model_dump(
            mode="json", include={"connected", "vcenter", "vcenter_version", "last_success", "consecutive_failures"}
        )
    return SystemStatus(services=services, systems=systems, vcenter=vcenter, dead_letters=dead_letters)
