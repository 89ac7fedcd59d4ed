"""Alerts from Alertmanager, as the gateway publishes them to the scaler.

The original's contract: alert names ``<group>_HighResourceUsage`` (scale out) and
``<group>_LowResourceUsage`` (scale in), labels ``service`` and ``autoscale``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.messages.base import Event, Query, Reply
from shared.vocabulary import ScaleDirection, UtcDatetime

__all__ = ["AlertFired", "AlertResolved", "AlertStatus", "GroupStatusQuery", "GroupStatusReply", "ScaleDirection"]


class AlertStatus(StrEnum):
    """Alertmanager's status of one alert."""

    FIRING = "firing"
    RESOLVED = "resolved"


class _AlertEvent(Event):
    group: str = Field(min_length=1, max_length=128)
    alertname: str = Field(min_length=1)
    direction: ScaleDirection | None = None
    fingerprint: str = Field(min_length=1)
    starts_at: UtcDatetime
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    receiver: str = ""


class AlertFired(_AlertEvent):
    """One firing alert episode ``(fingerprint, starts_at)`` for a scaling group."""


class AlertResolved(_AlertEvent):
    """The end of an alert episode."""

    ends_at: UtcDatetime


class GroupStatusQuery(Query):
    """Gateway → scaler: does this scaling group exist, and is it enabled?

    Asked by the webhook before it accepts an alert (answers are cached for a few seconds).
    """

    group: str = Field(min_length=1, max_length=128)


class GroupStatusReply(Reply):
    """The scaler's answer to ``GroupStatusQuery``."""

    group: str = ""
    exists: bool = False
    enabled: bool = False
