"""Service health: heartbeats, health queries and dead letters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.messages.base import Event, Query, Reply, UtcDatetime

__all__ = ["DeadLetter", "HealthQuery", "HealthReply", "LogLevelSet", "ServiceHeartbeat"]


class ServiceHeartbeat(Event):
    """Published by every service every few seconds on core NATS."""

    service: str
    instance: str
    pid: int
    started_at: UtcDatetime
    version: str
    healthy: bool = True
    problems: dict[str, str] = Field(default_factory=dict)


class LogLevelSet(Event):
    """An admin changed the log level of one service (``service``) or of all (``*``), at run time."""

    service: str
    """A service name, or ``*`` for every service."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    actor: str = ""


class HealthQuery(Query):
    """Ask one service whether it is healthy."""


class HealthReply(Reply):
    """A service's own view of its health and of its dependencies."""

    service: str = ""
    healthy: bool = False
    checks: dict[str, str] = Field(default_factory=dict)
    latency_ms: dict[str, float] = Field(default_factory=dict)
    """How long each check took: for an external system, one round trip to it."""
    external: list[str] = Field(default_factory=list)
    """The checks that are external systems this service drives (vCenter, a load balancer, ...)."""
    started_at: UtcDatetime | None = None


class DeadLetter(Event):
    """A message no handler could process, with the reason; nothing is lost."""

    subject: str
    consumer: str
    reason: str
    error_kind: str
    deliveries: int
    headers: dict[str, str] = Field(default_factory=dict)
    payload: str
    extra: dict[str, Any] = Field(default_factory=dict)
