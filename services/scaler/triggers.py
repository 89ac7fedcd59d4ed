"""Triggers: what asks for an evaluation, and when.

* **the loop's tick** — every enabled group without a running activity is evaluated every
  ``evaluation_interval_s``, or sooner when a cooldown or back-off ends (``timers.next_evaluation``);
* **kicks** — an evaluation that failed, or an alert that could not be decided at once, makes the
  group's evaluation happen on the next tick (``kick``);
* **alerts** — ``alert.fired`` is stored first (idempotent by message id) and evaluates the group
  at once; the alert is a hint, Prometheus decides; ``alert.resolved`` ends the episode;
* **target tracking** — on its own interval (``timers.tracking_due``);
* **schedules** — when a cron schedule is due (``domain.schedule.due``);
* **manual requests** — an operator's new size.

Each asks ``Decisions`` (``evaluate_group`` or ``evaluate``), which decides; nothing here reads
Prometheus or decides anything.
"""

from __future__ import annotations

from datetime import datetime

from services.scaler.decisions import Decisions
from services.scaler.domain.model import ManualChange, ScheduledAction
from services.scaler.domain.schedule import due
from services.scaler.domain.timers import next_evaluation, tracking_due
from services.scaler.ports import AlertRecord, DecisionRecord, GroupRecord, Store, UnitOfWork
from shared import subjects
from shared.clock import Clock
from shared.errors import VmscaleError
from shared.messages import AlertFired, AlertResolved
from shared.telemetry import get_logger

__all__ = ["Triggers"]

log = get_logger(__name__)


class Triggers:
    """Asks ``Decisions`` for an evaluation whenever something calls for one."""

    def __init__(self, store: Store, decisions: Decisions, clock: Clock, evaluation_interval_s: float) -> None:
        self._store = store
        self._decisions = decisions
        self._clock = clock
        self._interval_s = evaluation_interval_s
        self._next: dict[str, datetime] = {}
        self._kicked: set[str] = set()

    def kick(self, group: str) -> None:
        """Evaluate ``group`` on the next tick instead of waiting for its interval."""
        self._kicked.add(group)

    async def on_alert_fired(self, event: AlertFired) -> DecisionRecord | None:
        """Store the alert episode first (idempotent by message id), then evaluate the group at
        once. An evaluation that fails here is left to the loop (the group is evaluated again
        next tick), so the message never needs a redelivery to be decided."""
        now = self._clock.now()

        def store(uow: UnitOfWork) -> AlertRecord | None:
            if uow.groups.get(event.group) is None:
                return None
            return self._remember(uow, event, now)

        alert = await self._store.transaction(store)
        if alert is None:
            return None
        try:
            return await self._decisions.evaluate_group(event.group, alert=alert)
        except VmscaleError as exc:
            self.kick(event.group)
            log.warning("alert stored; the next evaluation decides it", group=event.group, error=str(exc))
            return None

    @staticmethod
    def _remember(uow: UnitOfWork, event: AlertFired, now: datetime) -> AlertRecord | None:
        """Claim the message and store its episode; None when the message was handled before."""
        if not uow.inbox.claim(str(event.message_id), subjects.ALERT_FIRED.name):
            return None
        record = AlertRecord(
            group=event.group,
            fingerprint=event.fingerprint,
            alertname=event.alertname,
            starts_at=event.starts_at,
            received_at=now,
            labels=event.labels,
        )
        previous = uow.alerts.get(event.group, event.fingerprint)
        if previous is not None and previous.resolved_at is None:
            record = record.model_copy(update={"last_evaluated_at": previous.last_evaluated_at})
        uow.alerts.save(record)
        return record

    async def on_alert_resolved(self, event: AlertResolved) -> None:
        """The episode ended: no more re-checks for it."""
        now = self._clock.now()

        def resolve(uow: UnitOfWork) -> None:
            record = uow.alerts.get(event.group, event.fingerprint)
            if record is not None and record.resolved_at is None:
                uow.alerts.save(record.model_copy(update={"resolved_at": now}))

        await self._store.transaction(resolve)

    async def manual(self, group: str, change: ManualChange) -> DecisionRecord | None:
        """An operator's request for a new size."""
        return await self._decisions.evaluate(group, change, f"manual:{change.actor}")

    async def tick(self) -> None:
        """One round of the loop: evaluate every enabled group that is due, run target tracking
        and due schedules. One group's failure is logged and does not hold up the others."""
        now = self._clock.now()

        def read(uow: UnitOfWork) -> tuple[list[GroupRecord], set[str]]:
            return uow.groups.all(), {a.group for a in uow.activities.active()}

        records, busy = await self._store.transaction(read)
        for record in records:
            name = record.spec.name
            if not record.spec.enabled:
                self._next.pop(name, None)
                continue
            try:
                await self._tick_group(record, name in busy, now)
            except VmscaleError as exc:
                self.kick(name)
                log.warning("evaluation failed; retrying next round", group=name, error=str(exc))

    async def _tick_group(self, record: GroupRecord, busy: bool, now: datetime) -> None:
        spec, state = record.spec, record.state
        name = spec.name
        if not busy and (name in self._kicked or now >= self._next.get(name, now)):
            self._kicked.discard(name)
            self._next[name] = next_evaluation(spec, state, now, self._interval_s)
            await self._decisions.evaluate_group(name)
        tracking = spec.target_tracking()
        if tracking is not None and tracking_due(tracking, state, now):
            await self._decisions.evaluate(name, tracking, "target_tracking", quiet=True)
        for policy in spec.policies:
            if isinstance(policy, ScheduledAction) and due(
                policy, state.schedule_runs.get(policy.name), now, record.created_at
            ):
                await self._decisions.evaluate(name, policy, f"schedule:{policy.name}")
