"""The log level of the running services, changed without a restart (admin only, audited)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.gateway.deps import Admin, State, client_address
from services.gateway.errors import Problem
from shared import subjects
from shared.messages import LogLevelSet

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["system"])

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LogLevelChange(BaseModel):
    """Which service (or ``all``) and the new level."""

    service: Literal["all", "gateway", "inventory", "monitoring", "scaler", "loadbalancer"] = "all"
    level: Level


class LogLevelState(BaseModel):
    """The gateway's own level now, and what was asked of the others."""

    gateway: str = Field(description="the gateway's level now")
    requested: LogLevelChange | None = None


@router.get("/log-level", response_model=LogLevelState, summary="The gateway's log level")
async def get_log_level(state: State, _: Admin) -> LogLevelState:
    """The level the gateway logs at now."""
    return LogLevelState(gateway=state.runtime.log_level)


@router.put(
    "/log-level",
    response_model=LogLevelState,
    summary="Change the log level of one service or of all, now",
    responses={503: {"model": Problem, "description": "NATS unavailable: the other services were not told"}},
)
async def put_log_level(change: LogLevelChange, request: Request, state: State, me: Admin) -> LogLevelState:
    """This gateway applies it at once; the other services, and the other replicas of the
    gateway, when they hear it on the bus (every replica of them). Audited."""
    if change.service in ("all", "gateway"):
        state.runtime.set_log_level(change.level, actor=me.name)
    target = "*" if change.service == "all" else change.service
    await state.runtime.bus.publish(
        subjects.LOG_LEVEL_SET, LogLevelSet(service=target, level=change.level, actor=me.name)
    )
    await state.audit(me, "log_level.set", change.service, client_address(request), level=change.level)
    return LogLevelState(gateway=state.runtime.log_level, requested=change)
