"""What a notification is, where it may go, and what became of each delivery.

Channels are configured as a JSON list (``NOTIFY_CHANNELS``, or a file in ``NOTIFY_CHANNELS_FILE``)
whose secrets are never inline: each channel names the *file* that holds its secret (a Slack
incoming-webhook URL is itself a secret; the generic webhook's HMAC key; the SMTP password). Only
the channel's name, type and the host it posts to are ever shown, logged or returned.

Examples::

    [{"name": "ops", "type": "webhook", "url": "https://hooks.example/vmscale",
      "secret_file": "/etc/vmscale/ops-hmac", "groups": ["*"], "min_severity": "warning"},
     {"name": "chat", "type": "slack", "url_file": "/etc/vmscale/slack-url", "groups": ["web"]},
     {"name": "mail", "type": "email", "smtp_host": "smtp.example", "smtp_port": 587,
      "smtp_username": "vmscale", "smtp_password_file": "/etc/vmscale/smtp-password",
      "mail_from": "vmscale@example", "mail_to": ["ops@example"], "min_severity": "critical"}]
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import ConfigurationError
from shared.problems import summary

__all__ = [
    "ChannelConfig",
    "Delivery",
    "DeliveryOutcome",
    "Kind",
    "Notification",
    "Severity",
    "load_channels",
]


class Severity(IntEnum):
    """How urgent; channels take a minimum."""

    INFO = 10
    WARNING = 20
    CRITICAL = 30

    @property
    def label(self) -> str:
        """Lower-case name (``warning``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Severity:
        """``warning`` → ``Severity.WARNING``."""
        try:
            return cls[value.upper()]
        except KeyError as exc:
            raise ValueError(f"unknown severity {value!r}") from exc


class Kind(StrEnum):
    """What went wrong (or a test)."""

    ACTIVITY_FAILED = "activity_failed"
    VM_LOST = "vm_lost"
    GROUP_PINNED = "group_pinned"
    IP_POOL_LOW = "ip_pool_low"
    ORPHANS = "orphans"
    DEAD_LETTER = "dead_letter"
    TEST = "test"


class Notification(BaseModel):
    """One thing operators must hear about, with the key that de-duplicates it."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    severity: Severity
    title: str
    text: str
    dedup_key: str
    occurred_at: datetime
    group: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The JSON body of the generic webhook."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.label,
            "title": self.title,
            "text": self.text,
            "group": self.group,
            "occurred_at": self.occurred_at.isoformat(),
            "dedup_key": self.dedup_key,
            "details": self.details,
        }


class ChannelConfig(BaseModel):
    """One channel: its type, where it posts, which notifications it takes, how many."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    type: Literal["webhook", "slack", "email"]
    url: str = ""
    """The generic webhook's URL (not secret); Slack's comes from ``url_file``."""
    url_file: Path | None = None
    secret_file: Path | None = None
    """The generic webhook's HMAC-SHA256 key."""
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    """Refuse to send unless the server offers STARTTLS (the credentials and alerts stay private)."""
    smtp_ca_file: Path | None = None
    """CA bundle that signs the SMTP server's certificate (the system's when not given)."""
    smtp_username: str = ""
    smtp_password_file: Path | None = None
    mail_from: str = ""
    mail_to: tuple[str, ...] = ()
    groups: tuple[str, ...] = ("*",)
    """Groups routed here; ``*`` is every group (and notifications about no group)."""
    min_severity: Severity = Severity.WARNING
    kinds: tuple[Kind, ...] = ()
    """Only these kinds (empty: all)."""
    rate_per_min: int = Field(default=20, ge=1, le=10_000)
    dedup_window_s: float = Field(default=600.0, ge=0)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    attempts: int = Field(default=4, ge=1, le=10)
    backoff_s: float = Field(default=1.0, ge=0, le=300)

    @field_validator("min_severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, str) else value

    def read_url(self) -> str:
        """The URL to post to (read from ``url_file`` when given)."""
        url = _read(self.url_file) if self.url_file is not None else self.url
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ConfigurationError(f"notification channel {self.name!r} has no http(s) URL")
        return url

    def read_secret(self) -> str:
        """The HMAC key ('' without one)."""
        return _read(self.secret_file) if self.secret_file is not None else ""

    def read_smtp_password(self) -> str:
        """The SMTP password ('' without one)."""
        return _read(self.smtp_password_file) if self.smtp_password_file is not None else ""

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type == "email" and not (self.smtp_host and self.mail_from and self.mail_to):
            raise ValueError("an email channel needs smtp_host, mail_from and mail_to")
        if self.type == "slack" and self.url_file is None:
            raise ValueError("a slack channel needs url_file (its URL is a secret)")
        return self

    def wants(self, notification: Notification) -> bool:
        """Whether this channel routes ``notification`` (group, severity and kind)."""
        if notification.kind is not Kind.TEST:
            if notification.severity < self.min_severity:
                return False
            if self.kinds and notification.kind not in self.kinds:
                return False
        return "*" in self.groups or (notification.group is not None and notification.group in self.groups)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc


class DeliveryOutcome(StrEnum):
    """What became of one notification on one channel."""

    SENT = "sent"
    FAILED = "failed"
    DEDUPLICATED = "deduplicated"
    RATE_LIMITED = "rate_limited"


class Delivery(BaseModel):
    """The record of one notification on one channel (never a secret, never a URL)."""

    model_config = ConfigDict(frozen=True)

    channel: str
    kind: Kind
    severity: str
    group: str | None
    title: str
    dedup_key: str
    outcome: DeliveryOutcome
    attempts: int = 0
    reason: str = ""
    at: datetime


def load_channels(text: str) -> list[ChannelConfig]:
    """Parse the channel list (JSON); a clear ``ConfigurationError`` for a bad entry."""
    if not text.strip():
        return []
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"NOTIFY_CHANNELS is not JSON: {exc.msg} at {exc.pos}") from exc
    if not isinstance(raw, list):
        raise ConfigurationError("NOTIFY_CHANNELS must be a JSON list of channels")
    channels: list[ChannelConfig] = []
    for index, item in enumerate(raw):
        try:
            channels.append(ChannelConfig.model_validate(item))
        except ValidationError as exc:
            raise ConfigurationError(f"notification channel #{index}: {summary(exc)}") from exc
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ConfigurationError("notification channel names must be unique")
    return channels
