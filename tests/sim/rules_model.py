"""Prometheus' alerting rules as vmscale renders them, with ``for:`` and the sending rules.

Per service two rules (``services/monitoring/domain/rules.py``): ``<svc>_HighResourceUsage`` =
``max(cpu) > cpu_high or max(mem) > mem_high`` for ``out_for_s`` and ``<svc>_LowResourceUsage`` =
``max(cpu) < cpu_low and max(mem) < mem_low`` for ``in_for_s``; both expressions yield one
label-less series, so each rule has at most one alert. The state machine is Prometheus' (2.42):

* the expression holds and no live alert → a new alert, PENDING, ``active_at`` = this evaluation;
* PENDING for ``for_s`` (``ts - active_at >= for_s``) → FIRING;
* the expression stops holding (or has no data): a PENDING alert is dropped, a FIRING one turns
  INACTIVE with ``resolved_at`` and is kept ``resolved_retention_s`` (15 min) to be re-sent as
  resolved; holding again starts a new episode with a new ``active_at``;
* sent to Alertmanager when FIRING or newly resolved, then every ``resend_delay_s`` (1 min);
  ``starts_at = active_at``, ``ends_at = resolved_at`` or, while firing, ``valid_until = ts + 4 *
  max(resend_delay, evaluation_interval)`` — so an alert that stops being sent resolves in
  Alertmanager by itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.scaler.domain.model import ScalingGroup

__all__ = ["AlertState", "RuleAlert", "RuleSpec", "SentAlert", "fingerprint_of"]


def fingerprint_of(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit fingerprint of a label set (Alertmanager's shape, not its hash)."""
    text = "\xff".join(f"{k}\xfe{labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RuleSpec:
    """One service's two alert rules."""

    service: str
    job: str
    cpu_high: float = 80
    memory_high: float = 80
    out_for_s: float = 300
    cpu_low: float = 30
    memory_low: float = 30
    in_for_s: float = 600
    config_id: str | None = None

    @classmethod
    def of(cls, group: ScalingGroup, config_id: str | None = None) -> RuleSpec:
        """The rules monitoring would render for ``group``."""
        t = group.thresholds
        return cls(
            group.name,
            group.prometheus_job,
            t.cpu_high,
            t.memory_high,
            t.out_for_s,
            t.cpu_low,
            t.memory_low,
            t.in_for_s,
            config_id,
        )

    @property
    def high_alert(self) -> str:
        """The scale-out alert's name."""
        return f"{self.service}_HighResourceUsage"

    @property
    def low_alert(self) -> str:
        """The scale-in alert's name."""
        return f"{self.service}_LowResourceUsage"

    def labels(self, alertname: str) -> dict[str, str]:
        """The alert's labels, as the rendered rule sets them (plus ``alertname``)."""
        high = alertname == self.high_alert
        labels = {
            "alertname": alertname,
            "severity": "warning" if high else "info",
            "service": self.service,
            "instance": "all",
        }
        if self.config_id is not None:
            labels["autoscaleConfigId"] = self.config_id
        if not high:
            labels["scaleAction"] = "scale-in"
        return labels

    def high_holds(self, cpu: float | None, memory: float | None) -> bool:
        """``max(cpu) > cpu_high or max(mem) > mem_high`` (a side without data is false)."""
        return (cpu is not None and cpu > self.cpu_high) or (memory is not None and memory > self.memory_high)

    def low_holds(self, cpu: float | None, memory: float | None) -> bool:
        """``max(cpu) < cpu_low and max(mem) < mem_low`` (no data on either side: false)."""
        return cpu is not None and memory is not None and cpu < self.cpu_low and memory < self.memory_low


class AlertState(StrEnum):
    """Prometheus' alert states."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True)
class SentAlert:
    """One alert as Prometheus posts it to Alertmanager at ``sent_at`` (seconds)."""

    labels: dict[str, str]
    fingerprint: str
    starts_at: float
    ends_at: float
    sent_at: float

    @property
    def alertname(self) -> str:
        """The alert's name."""
        return self.labels["alertname"]

    @property
    def resolved(self) -> bool:
        """True when it was sent as resolved."""
        return self.ends_at <= self.sent_at


@dataclass
class RuleAlert:
    """The live alert of one rule (Prometheus' ``Alert``)."""

    name: str
    labels: dict[str, str]
    fingerprint: str
    state: AlertState
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    last_sent_at: float | None = None
    valid_until: float | None = None


@dataclass
class Rule:
    """One alerting rule and its alert (if any)."""

    spec: RuleSpec
    name: str
    for_s: float
    alert: RuleAlert | None = None
    for_state: tuple[float, float] | None = None
    for_state_before_restart: tuple[float, float] | None = None
    changes: list[tuple[float, str]] = field(default_factory=list)

    def evaluate(self, holds: bool, ts: float, resolved_retention_s: float) -> None:
        """One evaluation at ``ts`` of an expression that ``holds`` (or not)."""
        alert = self.alert
        if holds:
            if alert is None or alert.state is AlertState.INACTIVE:
                labels = self.spec.labels(self.name)
                alert = self.alert = RuleAlert(self.name, labels, fingerprint_of(labels), AlertState.PENDING, ts)
                self.changes.append((ts, "pending"))
            if alert.state is AlertState.PENDING and ts - alert.active_at >= self.for_s:
                alert.state, alert.fired_at = AlertState.FIRING, ts
                self.changes.append((ts, "firing"))
            self.for_state = (ts, alert.active_at)
            return
        self.for_state = None
        if alert is None:
            return
        expired = alert.resolved_at is not None and ts - alert.resolved_at > resolved_retention_s
        if alert.state is AlertState.PENDING or expired:
            self.alert = None
        if alert.state is not AlertState.INACTIVE:
            self.changes.append((ts, "inactive" if alert.state is AlertState.PENDING else "resolved"))
            alert.state, alert.resolved_at = AlertState.INACTIVE, ts

    def to_send(self, ts: float, resend_delay_s: float, interval_s: float) -> SentAlert | None:
        """The alert to post to Alertmanager at ``ts``, if it needs sending."""
        alert = self.alert
        if alert is None or alert.state is AlertState.PENDING:
            return None
        last = alert.last_sent_at
        newly_resolved = alert.resolved_at is not None and (last is None or alert.resolved_at > last)
        if not newly_resolved and last is not None and not last + resend_delay_s < ts:
            return None
        alert.last_sent_at = ts
        alert.valid_until = ts + 4 * max(resend_delay_s, interval_s)
        ends = alert.resolved_at if alert.resolved_at is not None else alert.valid_until
        return SentAlert(dict(alert.labels), alert.fingerprint, alert.active_at, ends, ts)

    def restore(self, ts: float, grace_s: float, tolerance_s: float) -> None:
        """Prometheus' ``RestoreForState`` after a restart (first evaluation at ``ts`` done)."""
        alert, saved = self.alert, self.for_state_before_restart
        if alert is None or alert.state is AlertState.INACTIVE or self.for_s < grace_s or saved is None:
            return
        down_at, active_at = saved
        if down_at < ts - tolerance_s:
            return
        active_at = float(int(active_at))  # ALERTS_FOR_STATE holds whole seconds
        remaining = self.for_s - (down_at - active_at)
        if remaining <= 0:
            restored = active_at
        elif remaining < grace_s:
            restored = ts + grace_s - self.for_s
        else:
            restored = active_at + (ts - down_at)
        alert.active_at = restored
