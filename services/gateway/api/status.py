"""``/api/v1/system/status``: every service's health and each external system as its owner sees it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from services.gateway.deps import State, Viewer
from shared import subjects
from shared.errors import VmscaleError
from shared.messages import HealthQuery, HealthReply, InventoryStatusQuery, InventoryStatusReply

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


class SystemStatus(BaseModel):
    """The whole system at a glance."""

    services: list[ServiceStatus]
    vcenter: dict[str, Any] | None


async def _health(state: Any, service: str) -> ServiceStatus:
    started = time.perf_counter()
    try:
        reply: HealthReply = await state.runtime.bus.request(subjects.health_query(service), HealthQuery(), timeout=2.0)
    except VmscaleError as exc:
        return ServiceStatus(
            service=service, healthy=False, latency_ms=None, checks={}, heartbeat_age_s=None, error=exc.message
        )
    return ServiceStatus(
        service=service,
        healthy=reply.healthy,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        checks=dict(reply.checks),
        heartbeat_age_s=None,
    )


@router.get("/system/status", response_model=SystemStatus, summary="Connectivity and health of everything")
async def system_status(state: State, _: Viewer) -> SystemStatus:
    """Each service's health (its checks cover vCenter, the load balancer, Prometheus, ...)."""
    ages = {item.service: item.age_s for item in state.board.liveness()}
    results = await asyncio.gather(*(_health(state, service) for service in subjects.SERVICES))
    services = [item.model_copy(update={"heartbeat_age_s": ages.get(item.service)}) for item in results]
    vcenter: dict[str, Any] | None = None
    try:
        reply: InventoryStatusReply = await state.runtime.bus.request(
            subjects.QUERY_INVENTORY_STATUS, InventoryStatusQuery(), timeout=2.0
        )
    except VmscaleError:
        vcenter = None
    else:
        # an inventory that answers with an error has told nothing about vCenter: unknown, not "disconnected"
        vcenter = (
            None
            if reply.error
            else reply.model_dump(
                mode="json", include={"connected", "vcenter", "vcenter_version", "last_success", "consecutive_failures"}
            )
        )
    return SystemStatus(services=services, vcenter=vcenter)
