"""Which events operators must hear about at once, as notifications (pure, but for the memory of
how long a group has been pinned).

===================================  ==========================================  ========
event                                notification                                severity
===================================  ==========================================  ========
``activity.rolled_back``             the activity failed or rolled back          critical if failed, else warning
``decision.recorded`` allowed with   VMs lost and being replaced                 warning
  a lost VM
``decision.recorded`` ``at_max`` /   group pinned at its limit, once it has      warning
  ``at_min`` for ``pinned_after_s``  been for that long
``decision.recorded``                IP pool exhausted                           critical
  ``ip_pool_exhausted``
``decision.recorded`` allowed, free  IP pool low                                 warning
  addresses ≤ ``pool_low_free``
``decision.orphans_detected``        tagged VMs without an instance record       warning
``dlq.>``                            a message was dead-lettered                 warning
===================================  ==========================================  ========

Texts are scrubbed of anything that looks like a secret; a dead letter's payload is never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.gateway.events import scrub_text
from services.gateway.notify.model import Kind, Notification, Severity
from services.gateway.notify.ports import PinnedSpells
from shared.messages import ActivityRolledBack, DeadLetter, DecisionRecorded, Message, OrphanVmsDetected

__all__ = ["NotificationRules", "RuleSettings"]

_PINNED = {"at_max": "maximum", "at_min": "minimum"}


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds of the rules."""

    pinned_after_s: float = 600.0
    pool_low_free: int = 2


class NotificationRules:
    """Turns events into notifications; since when each group is pinned is kept in ``spells``
    (shared by the replicas, which each see only some of the decisions)."""

    def __init__(self, spells: PinnedSpells, settings: RuleSettings | None = None) -> None:
        self.settings = settings or RuleSettings()
        self._spells = spells

    async def of(self, message: Message) -> Notification | None:
        """The notification ``message`` calls for, or None (``ServiceUnavailable`` when the
        spells cannot be read or ended)."""
        if isinstance(message, ActivityRolledBack):
            return self._rolled_back(message)
        if isinstance(message, DecisionRecorded):
            return await self._decision(message)
        if isinstance(message, OrphanVmsDetected):
            return self._orphans(message)
        if isinstance(message, DeadLetter):
            return self._dead_letter(message)
        return None

    def _rolled_back(self, event: ActivityRolledBack) -> Notification:
        failed = event.reason.startswith("failed")
        what = "failed" if failed else "rolled back"
        kind = event.kind.value.replace("_", "-")
        return Notification(
            kind=Kind.ACTIVITY_FAILED,
            severity=Severity.CRITICAL if failed else Severity.WARNING,
            title=f"{kind} of group {event.group} {what}",
            text=f"Step {event.failed_step or '?'} failed after {event.duration_s:.0f} s: {scrub_text(event.reason)}",
            dedup_key=f"activity:{event.activity_id}",
            occurred_at=event.occurred_at,
            group=event.group,
            details={"activity_id": event.activity_id, "failed_step": event.failed_step, "kind": event.kind.value},
        )

    async def _decision(self, event: DecisionRecorded) -> Notification | None:
        reason, _, message = event.reason.partition(":")
        reason, message = reason.strip(), message.strip()
        group = event.group
        if reason in _PINNED:
            return await self._pinned(event, reason)
        await self._spells.end(group)  # any other decision ends the pinned spell
        base: dict[str, Any] = {"occurred_at": event.occurred_at, "group": group}
        if reason == "ip_pool_exhausted":
            return Notification(
                kind=Kind.IP_POOL_LOW,
                severity=Severity.CRITICAL,
                title=f"IP pool of group {group} is exhausted",
                text=f"Scale-out blocked: {scrub_text(message)}",
                dedup_key=f"pool:{group}:exhausted",
                **base,
            )
        if event.allowed and "lost:" in message:
            return Notification(
                kind=Kind.VM_LOST,
                severity=Severity.WARNING,
                title=f"VMs of group {group} lost; replacing them",
                text=scrub_text(message),
                dedup_key=f"lost:{group}:{message}",
                details={"activity_id": event.activity_id},
                **base,
            )
        free = event.observed.get("free_ips")
        if event.allowed and event.delta > 0 and isinstance(free, int) and free <= self.settings.pool_low_free:
            return Notification(
                kind=Kind.IP_POOL_LOW,
                severity=Severity.WARNING,
                title=f"IP pool of group {group} is running low",
                text=f"{free} address(es) left before this scale-out of {event.delta}.",
                dedup_key=f"pool:{group}:low",
                details={"free_ips": free},
                **base,
            )
        return None

    async def _pinned(self, event: DecisionRecorded, reason: str) -> Notification | None:
        since = await self._spells.since(event.group, reason, event.occurred_at)
        held = (event.occurred_at - since).total_seconds()
        if held < self.settings.pinned_after_s:
            return None
        return Notification(
            kind=Kind.GROUP_PINNED,
            severity=Severity.WARNING,
            title=f"Group {event.group} pinned at its {_PINNED[reason]}",
            text=f"Every decision for {held / 60:.0f} min was blocked: {reason} ({scrub_text(event.trigger)}).",
            dedup_key=f"pinned:{event.group}:{reason}",
            occurred_at=event.occurred_at,
            group=event.group,
            details={"since": since.isoformat(), "reason": reason},
        )

    @staticmethod
    def _orphans(event: OrphanVmsDetected) -> Notification | None:
        if not event.vm_names:
            return None
        names = sorted(event.vm_names)
        return Notification(
            kind=Kind.ORPHANS,
            severity=Severity.WARNING,
            title=f"{len(names)} orphan VM(s) of group {event.group}",
            text="Tagged for the group but without an instance record: " + ", ".join(names),
            dedup_key=f"orphans:{event.group}:{','.join(names)}",
            occurred_at=event.occurred_at,
            group=event.group,
            details={"vm_names": names},
        )

    @staticmethod
    def _dead_letter(event: DeadLetter) -> Notification:
        return Notification(
            kind=Kind.DEAD_LETTER,
            severity=Severity.WARNING,
            title=f"A message on {event.subject} was dead-lettered",
            text=(
                f"{event.consumer or 'a consumer'} gave up after {event.deliveries} deliveries "
                f"({event.error_kind}): {scrub_text(event.reason)}"
            ),
            dedup_key=f"dlq:{event.subject}",
            occurred_at=event.occurred_at,
            details={"subject": event.subject, "error_kind": event.error_kind},
        )
