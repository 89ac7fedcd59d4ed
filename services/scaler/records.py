"""The records the scaler's ports store and return besides domain values: a group with its
run-time state, a decision, an alert episode, an outbox entry, a held lease."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from services.scaler.domain.model import Frozen, GroupState, Instance, IpLease, IpPool, ScalingGroup
from services.scaler.domain.saga import Activity
from shared.vocabulary import UtcDatetime

__all__ = ["AlertRecord", "DecisionRecord", "GroupRecord", "Lease", "OutboxEntry", "Snapshot"]


class GroupRecord(Frozen):
    """A group's settings and its runtime state, stored together."""

    spec: ScalingGroup
    state: GroupState = GroupState()
    created_at: UtcDatetime
    updated_at: UtcDatetime


class DecisionRecord(Frozen):
    """One decision, allowed or blocked, with the inputs that produced it."""

    id: str
    group: str
    at: UtcDatetime
    allowed: bool
    delta: int = 0
    reason: str
    message: str
    trigger: str
    rule: str
    observed: dict[str, Any] = Field(default_factory=dict)
    activity_id: str | None = None


class AlertRecord(Frozen):
    """A firing alert episode the scaler has heard of (kept for cooldown re-checks)."""

    group: str
    fingerprint: str
    alertname: str
    starts_at: UtcDatetime
    received_at: UtcDatetime
    labels: dict[str, str] = Field(default_factory=dict)
    resolved_at: UtcDatetime | None = None
    last_evaluated_at: UtcDatetime | None = None


class OutboxEntry(Frozen):
    """A message recorded in a transaction, to be published after it commits."""

    id: str
    subject: str
    payload: str
    created_at: UtcDatetime
    published_at: UtcDatetime | None = None
    trace_context: str = ""
    """The trace the message belongs to (``shared.telemetry.current_trace_context`` when it was
    added; restored when it is published, however much later); "" when there was none."""


class Lease(Frozen):
    """A held group lease; ``token`` increases with every new holder (the fencing token)."""

    group: str
    owner: str
    token: int


@dataclass(frozen=True)
class Snapshot:
    """What the database says about a group at a decision's instant (``observation.snapshot``)."""

    record: GroupRecord
    instances: tuple[Instance, ...]
    active: tuple[Activity, ...]
    pool: IpPool | None
    leases: tuple[IpLease, ...]
