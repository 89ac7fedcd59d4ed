"""What vmscale asked of each pool member, persisted: the source of truth for reconcile and resume.

Long operations (waiting for health after an add, draining) run as background tasks; their
record lets a restarted service resume them and lets the reconcile compare intent with the
load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

__all__ = ["Desired", "MemberRecord", "MemberRecords"]


class Desired(StrEnum):
    """The member state vmscale wants."""

    ADDING = "adding"
    """Added disabled; waiting for health before enabling."""
    ACTIVE = "active"
    """Enabled, taking traffic."""
    DRAINING = "draining"
    """Disabled, waiting for connections to end."""
    DRAINED = "drained"
    """Forced offline; waiting for removal."""
    FAILED = "failed"
    """Added but never became healthy; left disabled."""


@dataclass(frozen=True)
class MemberRecord:
    """One member vmscale manages, with the command that set its state (for replies)."""

    pool: str
    name: str
    address: str
    port: int
    desired: Desired
    since: datetime
    timeout_s: float = 0.0
    activity_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def moved(self, desired: Desired, since: datetime, timeout_s: float | None = None) -> MemberRecord:
        """The same record in another desired state."""
        return replace(self, desired=desired, since=since, timeout_s=self.timeout_s if timeout_s is None else timeout_s)


class MemberRecords(Protocol):
    """Persistence of member records (SQL in the service, a dictionary in tests)."""

    async def get(self, pool: str, name: str) -> MemberRecord | None:
        """The record of ``pool``/``name``, or None."""
        ...

    async def put(self, record: MemberRecord) -> None:
        """Insert or replace the record (idempotent)."""
        ...

    async def advance(self, expected: MemberRecord, record: MemberRecord) -> bool:
        """Replace the stored record with ``record`` only while it is still ``expected`` (same
        desired state and causation id), in one atomic step across replicas; False, and nothing
        written, when another command replaced or deleted it meanwhile. ``record`` keeps
        ``expected``'s pool and name."""
        ...

    async def delete(self, pool: str, name: str) -> None:
        """Forget the member; absent is fine."""
        ...

    async def all(self) -> list[MemberRecord]:
        """Every record, by pool then name."""
        ...
