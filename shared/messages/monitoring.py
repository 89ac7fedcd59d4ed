"""Commands to the monitoring service (Prometheus, Alertmanager, Grafana, agents over SSH)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import Command, Event

__all__ = [
    "AlertRuleSpec",
    "DeregisterTarget",
    "GroupAlertsProvisioned",
    "GroupAlertsRemoved",
    "MonitoringFailed",
    "ProvisionGroupAlerts",
    "RegisterTarget",
    "RemoveGroupAlerts",
    "SetScaleInSilence",
    "TargetDeregistered",
    "TargetRegistered",
]


class RegisterTarget(Command):
    """Add ``address:port`` to the Prometheus job ``job`` (file_sd); idempotent by target.

    With ``wait_up`` the reply comes once Prometheus reports the target up.
    """

    activity_id: str | None = None
    group: str | None = None
    job: str = Field(min_length=1, pattern=r"^[a-zA-Z_][a-zA-Z0-9_:-]*$")
    vm_name: str
    address: str
    port: int = Field(default=9100, ge=1, le=65535)
    labels: dict[str, str] = Field(default_factory=dict)
    wait_up: bool = True
    timeout_s: float = Field(default=120.0, gt=0)


class TargetRegistered(Event):
    """The target is in the job (and up, when the command asked to wait)."""

    activity_id: str | None = None
    job: str
    vm_name: str
    target: str
    up: bool


class DeregisterTarget(Command):
    """Remove a VM's target from a job; a missing target is success."""

    activity_id: str | None = None
    job: str
    vm_name: str
    address: str
    port: int = 9100


class TargetDeregistered(Event):
    """The target is gone from the job."""

    activity_id: str | None = None
    job: str
    vm_name: str
    target: str


class AlertRuleSpec(BaseModel):
    """The thresholds of a group, rendered into the original's two alert rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job: str
    cpu_high: float = Field(gt=0, le=100)
    memory_high: float = Field(gt=0, le=100)
    cpu_low: float = Field(ge=0, lt=100)
    memory_low: float = Field(ge=0, lt=100)
    out_for_s: int = Field(ge=0)
    in_for_s: int = Field(ge=0)


class ProvisionGroupAlerts(Command):
    """Write the group's alert rules and Alertmanager route to the gateway webhook; idempotent."""

    group: str
    rules: AlertRuleSpec
    webhook_url: str
    repeat_interval_s: int = 300


class GroupAlertsProvisioned(Event):
    """Rules and route are live (Prometheus and Alertmanager reloaded)."""

    group: str
    rule_names: tuple[str, ...]


class RemoveGroupAlerts(Command):
    """Delete the group's rules and route; idempotent."""

    group: str


class GroupAlertsRemoved(Event):
    """Rules and route are gone."""

    group: str


class SetScaleInSilence(Command):
    """Silence (``active``) or unsilence the group's scale-in alert, e.g. at min size."""

    group: str
    active: bool
    reason: str = ""


class MonitoringFailed(Event):
    """A monitoring command failed."""

    activity_id: str | None = None
    operation: str
    reason: str
    error_kind: str
    retryable: bool = False
