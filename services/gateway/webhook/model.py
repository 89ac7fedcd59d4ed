"""The Alertmanager webhook payload (version 4), as Alertmanager 0.25 … 0.34+ sends it.

Unknown fields are accepted (``notification_reason`` since 0.32, ``routeLabels`` later); the
receiver name arrives passed through Go's ``regexp.QuoteMeta``; a firing alert carries the zero
time ``0001-01-01T00:00:00Z`` as ``endsAt``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = ["AlertmanagerAlert", "AlertmanagerPayload", "unquote_meta"]

_QUOTED = re.compile(r"\\([\\.+*?()|\[\]{}^$])")


def unquote_meta(text: str) -> str:
    """Undo ``regexp.QuoteMeta``: ``scale\\.out`` → ``scale.out``."""
    return _QUOTED.sub(r"\1", text)


class AlertmanagerAlert(BaseModel):
    """One alert of the notification."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=64)

    @field_validator("startsAt", "endsAt", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        # RFC 3339 only: a date and a time with an offset, nothing pydantic would also accept
        # (numbers, bare dates).
        if value is None:
            return value
        if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}", value):
            raise ValueError("must be an RFC 3339 timestamp")
        return value

    @property
    def ended_at(self) -> datetime | None:
        """``endsAt`` unless it is Go's zero time (still firing)."""
        if self.endsAt is None or self.endsAt.year <= 1:
            return None
        return self.endsAt


class AlertmanagerPayload(BaseModel):
    """The body Alertmanager POSTs to a webhook receiver."""

    model_config = ConfigDict(extra="allow", frozen=True)

    version: Literal["4"]
    groupKey: str = ""
    truncatedAlerts: int = Field(default=0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertmanagerAlert] = Field(min_length=1, max_length=10_000)

    @property
    def receiver_name(self) -> str:
        """The receiver as configured (QuoteMeta undone)."""
        return unquote_meta(self.receiver)
