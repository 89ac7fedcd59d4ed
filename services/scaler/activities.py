"""Use case: run activities (sagas) — advance on replies, run local steps, time out, resume.

The steps' table is ``steps.STEPS``; a reply is matched to its step by ``step_replies``; local
steps run in ``local_steps``; audit events come from ``activity_events``; instance state changes
are ``domain.instances``' and timer changes ``domain.timers``'.

Every change to an activity happens in one transaction with the commands and events it causes
(written to the outbox), so a command is published if and only if its step was recorded. Replies
may reach any replica; local steps (health probe, hooks) run on the replica that holds the group
lease (the activity's *owner*). A replica that finds a running activity whose lease nobody holds
takes it over with a new, larger fencing token: that is how a killed scaler's activities resume,
and why a paused holder's late writes are refused.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from services.scaler.activity_events import end_event, step_events
from services.scaler.domain import ipam, saga
from services.scaler.domain.errors import StaleLease
from services.scaler.domain.instances import at_activity_end, on_command_sent, on_instant_step
from services.scaler.domain.model import ScalingGroup
from services.scaler.domain.saga import Activity, ActivityStatus, Phase, Retry, Step
from services.scaler.domain.timers import settle_timers
from services.scaler.local_steps import LocalStep, LocalStepPorts, perform_local_step
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import (
    GroupLease,
    GroupRecord,
    HealthProbe,
    Lease,
    LifecycleHook,
    OutboxEntry,
    Store,
    UnitOfWork,
)
from services.scaler.silence import sync_silence
from services.scaler.step_replies import match_reply
from services.scaler.steps import INSTANT_STEPS, LOCAL_STEPS, StepTimeouts, command_for
from shared import subjects
from shared.clock import Clock
from shared.errors import RetryableError
from shared.keyed_tasks import KeyedTasks
from shared.messages import Message, VmCloned
from shared.subjects import Subject
from shared.telemetry import current_trace_context, get_logger, restored_trace_context

__all__ = ["Activities", "EngineConfig", "sync_silence"]

log = get_logger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    """How activities run on this replica."""

    owner: str
    lease_ttl_s: float = 15.0
    retry: Retry = field(default_factory=Retry)
    timeouts: StepTimeouts = field(default_factory=StepTimeouts)
    failure_backoff_s: float = 60.0
    """After a rolled-back or failed activity, its direction waits this long (0: not at all)."""


class Activities:
    """Advances, compensates and resumes activities."""

    def __init__(
        self,
        store: Store,
        lease: GroupLease,
        probe: HealthProbe,
        hooks: LifecycleHook,
        relay: OutboxRelay,
        clock: Clock,
        config: EngineConfig,
    ) -> None:
        self._store = store
        self._lease = lease
        self._probe = probe
        self._hooks = hooks
        self._relay = relay
        self._clock = clock
        self.config = config
        self._owned: dict[str, Lease] = {}
        self._traces: dict[str, str] = {}
        """The trace each owned activity started in: its retries and timeouts, which the tick
        finds outside every span, go on in that trace."""
        self._tasks: KeyedTasks[tuple[str, str, str, str]] = KeyedTasks("local step", log)

    # -- inside transactions --------------------------------------------------------------------

    def advance(self, uow: UnitOfWork, previous: Activity | None, activity: Activity, now: datetime) -> Activity:
        """Start every step that can start, apply instant steps, record events; save."""
        record = uow.groups.get(activity.group)
        if record is None:
            raise LookupError(f"group {activity.group} is gone")
        group = record.spec
        for _ in range(64):
            ready = saga.runnable(activity, now)
            if not ready:
                break
            for track, run in ready:
                timeout = self.config.timeouts.of(run.step, group)
                if run.step in INSTANT_STEPS:
                    activity = self._instant(uow, activity, track.vm_name, run.step, run.phase, group, now)
                elif run.step in LOCAL_STEPS:
                    activity = saga.start(activity, track.vm_name, run.step, run.phase, now, timeout, None)
                else:
                    instance = uow.instances.get(group.name, track.vm_name)
                    subject, command = command_for(
                        activity, track, run, group, instance, uow.ip_pools.get(group.ip_pool), self.config.timeouts
                    )
                    uow.outbox.add(subject, command)
                    activity = saga.start(
                        activity, track.vm_name, run.step, run.phase, now, timeout, str(command.message_id)
                    )
                    changed_instance = on_command_sent(instance, run.step) if instance is not None else None
                    if changed_instance is not None:
                        uow.instances.save(changed_instance)
        for event in step_events(previous, activity):
            uow.outbox.add(subjects.ACTIVITY_STEP_COMPLETED, event)
        uow.activities.save(activity)
        if activity.status.terminal and (previous is None or not previous.status.terminal):
            self._finish(uow, record, activity, now)
        return activity

    def _instant(
        self,
        uow: UnitOfWork,
        activity: Activity,
        vm_name: str,
        step: Step,
        phase: Phase,
        group: ScalingGroup,
        now: datetime,
    ) -> Activity:
        track = activity.track(vm_name)
        if track.address is not None:
            for lease in uow.ip_pools.leases(group.ip_pool, for_update=True):
                if str(lease.address) == track.address and lease.vm_name == vm_name:
                    changed = ipam.confirm(lease, now) if step is Step.IN_SERVICE else ipam.release(lease, now)
                    uow.ip_pools.save_lease(changed)
        instance = uow.instances.get(group.name, vm_name)
        if instance is not None:
            uow.instances.save(on_instant_step(instance, step))
        return saga.complete(activity, vm_name, step, phase, now)

    def _finish(self, uow: UnitOfWork, record: GroupRecord, activity: Activity, now: datetime) -> None:
        uow.outbox.add(*end_event(activity, now))
        for track in activity.tracks:
            instance = uow.instances.get(activity.group, track.vm_name)
            ended = at_activity_end(instance, activity) if instance is not None else None
            if ended is not None:
                uow.instances.save(ended)
        fresh = uow.groups.get(activity.group) or record
        # Same transaction as the rollback record: the cooldown claim is given back (or kept).
        timers = settle_timers(fresh.state, activity, now, self.config.failure_backoff_s)
        fresh = fresh.model_copy(update={"state": timers})
        uow.groups.save(fresh)
        sync_silence(uow, fresh, now)
        log.info("activity ended", activity_id=activity.id, group=activity.group, status=str(activity.status))

    # -- replies --------------------------------------------------------------------------------

    async def on_reply(self, subject: Subject[Any], event: Message) -> Activity | None:
        """Apply a reply event to its activity (idempotent by message id)."""
        activity_id = getattr(event, "activity_id", None) or event.correlation_id
        if not activity_id:
            return None
        now = self._clock.now()
        retry = self.config.retry

        def txn(uow: UnitOfWork) -> Activity | None:
            if not uow.inbox.claim(str(event.message_id), subject.name):
                return None
            return self._apply_reply(uow, activity_id, event, now, retry)

        result = await self._store.transaction(lambda uow: self._with_entries(uow, txn(uow)))
        if result is not None:
            await self.after(*result)
            return result[0]
        return None

    @staticmethod
    def _with_entries(uow: UnitOfWork, activity: Activity | None) -> tuple[Activity, list[OutboxEntry]] | None:
        return None if activity is None else (activity, uow.outbox.recorded())

    def _apply_reply(
        self, uow: UnitOfWork, activity_id: str, event: Message, now: datetime, retry: Retry
    ) -> Activity | None:
        activity = uow.activities.get(activity_id, for_update=True)
        if activity is None or activity.status.terminal:
            return None
        outcome = match_reply(activity, event)
        if outcome is None:
            return None
        if outcome.ok:
            if isinstance(event, VmCloned):
                instance = uow.instances.get(activity.group, event.vm_name)
                if instance is not None:
                    uow.instances.save(
                        instance.model_copy(update={"moref": event.moref, "instance_uuid": event.instance_uuid})
                    )
            changed = saga.complete(activity, outcome.vm_name, outcome.step, outcome.phase, now)
        else:
            changed = saga.fail(
                activity, outcome.vm_name, outcome.step, outcome.phase, outcome.error, outcome.retryable, now, retry
            )
        return self.advance(uow, activity, changed, now)

    # -- ownership, local steps, ticks ----------------------------------------------------------

    def adopt(self, activity: Activity, lease: Lease) -> None:
        """This replica started ``activity`` under ``lease`` (in the current trace) and owns it."""
        self._owned[activity.id] = lease
        self._traces[activity.id] = current_trace_context()

    def owns(self, activity_id: str) -> bool:
        """True when this replica runs the activity's local steps."""
        return activity_id in self._owned

    async def after(self, activity: Activity, entries: list[OutboxEntry] | None = None) -> None:
        """After a commit: publish (``entries``, what the transaction recorded, else whatever is
        pending), launch local steps we own, give the lease up at the end."""
        if entries is None:
            await self._relay.flush_soon()
        else:
            await self._relay.publish_committed(entries)
        lease = self._owned.get(activity.id)
        if lease is None:
            return
        if activity.status.terminal:
            self._disown(activity.id)
            with contextlib.suppress(RetryableError):
                await self._lease.release(lease)
            return
        for track, run in activity.steps_running():
            if run.step in LOCAL_STEPS:
                key = (activity.id, track.vm_name, str(run.step), str(run.phase))
                self._tasks.start(key, partial(self._run_local, activity, track.vm_name, run.step, run.phase, lease))

    async def _checkpoint(
        self, activity_id: str, vm_name: str, step: Step, phase: Phase, value: str, lease: Lease
    ) -> None:
        """Store the handle of a hook's external work (a Jenkins queue item or build URL) in its
        step, so a restarted replica follows that work instead of starting it again."""
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> None:
            current = uow.activities.get(activity_id, for_update=True)
            if current is None or current.lease_token != lease.token or current.status.terminal:
                return  # fenced off: another replica owns the activity now
            changed = saga.checkpoint(current, vm_name, step, phase, value, now)
            if changed != current:
                uow.activities.save(changed)

        await self._store.transaction(txn)

    async def _run_local(self, activity: Activity, vm_name: str, step: Step, phase: Phase, lease: Lease) -> None:
        group = await self._store.transaction(lambda uow: uow.groups.get(activity.group))
        if group is None:
            return
        ok, error, retryable = await perform_local_step(
            LocalStepPorts(self._probe, self._hooks),
            group.spec,
            LocalStep(activity, vm_name, step, phase),
            self.config.timeouts.health_s,
            lambda value: self._checkpoint(activity.id, vm_name, step, phase, value, lease),
        )
        now = self._clock.now()
        retry = self.config.retry

        def txn(uow: UnitOfWork) -> Activity | None:
            current = uow.activities.get(activity.id, for_update=True)
            if current is None or current.lease_token != lease.token or current.status.terminal:
                return None  # fenced off: another replica owns the activity now
            if ok:
                changed = saga.complete(current, vm_name, step, phase, now)
            else:
                changed = saga.fail(current, vm_name, step, phase, error, retryable, now, retry)
            if changed == current:
                return None
            return self.advance(uow, current, changed, now)

        result = await self._store.transaction(lambda uow: self._with_entries(uow, txn(uow)))
        if result is not None:
            await self.after(*result)

    async def tick(self) -> None:
        """Renew our leases, take over orphaned activities, time out and retry steps."""
        active = await self._store.transaction(lambda uow: uow.activities.active())
        for activity in active:
            lease = await self._ownership(activity)
            if lease is None:
                continue
            now = self._clock.now()
            retry = self.config.retry

            def txn(
                uow: UnitOfWork,
                activity_id: str = activity.id,
                token: int = lease.token,
                now: datetime = now,
                retry: Retry = retry,
            ) -> tuple[Activity, list[OutboxEntry]] | None:
                current = uow.activities.get(activity_id, for_update=True)
                if current is None or current.lease_token != token or current.status.terminal:
                    return None
                expired = saga.expire(current, now, retry)
                if expired == current and not saga.runnable(current, now):
                    return current, []  # nothing timed out or became due: no write
                return self._with_entries(uow, self.advance(uow, current, expired, now))

            with restored_trace_context(self._traces.get(activity.id, "")):
                result = await self._store.transaction(txn)
                if result is not None:
                    await self.after(*result)
                else:
                    self._disown(activity.id)

    def _disown(self, activity_id: str) -> None:
        self._owned.pop(activity_id, None)
        self._traces.pop(activity_id, None)

    async def _ownership(self, activity: Activity) -> Lease | None:
        lease = self._owned.get(activity.id)
        if lease is not None:
            if await self._lease.extend(lease, self.config.lease_ttl_s):
                return lease
            log.warning("lease lost", activity_id=activity.id, group=activity.group)
            self._disown(activity.id)
            return None
        if await self._lease.holder(activity.group) is not None:
            return None
        record = await self._store.transaction(lambda uow: uow.groups.get(activity.group))
        floor = max(record.state.lease_fence if record is not None else 0, activity.lease_token)
        lease = await self._lease.acquire(activity.group, self.config.owner, self.config.lease_ttl_s, floor)
        if lease is None:
            return None
        owner = self.config.owner

        def takeover(uow: UnitOfWork) -> Activity | None:
            current = uow.activities.get(activity.id, for_update=True)
            record = uow.groups.get(activity.group, for_update=True)
            if current is None or current.status.terminal or record is None:
                return None
            if record.state.lease_fence > lease.token:
                raise StaleLease("a newer lease exists", group=activity.group)
            uow.groups.save(
                record.model_copy(update={"state": record.state.model_copy(update={"lease_fence": lease.token})})
            )
            taken = current.model_copy(update={"owner": owner, "lease_token": lease.token})
            uow.activities.save(taken)
            return taken

        try:
            taken = await self._store.transaction(takeover)
        except StaleLease:
            taken = None
        if taken is None:
            await self._lease.release(lease)
            return None
        log.info("activity taken over", activity_id=activity.id, group=activity.group, token=lease.token)
        self._owned[activity.id] = lease
        return lease

    async def cancel(self, activity_id: str, actor: str) -> Activity | None:
        """Cancel a running activity (its completed steps are compensated)."""
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> Activity | None:
            current = uow.activities.get(activity_id, for_update=True)
            if current is None:
                return None
            if current.status is not ActivityStatus.RUNNING:
                return current
            return self.advance(uow, current, saga.cancel(current, now, actor), now)

        result = await self._store.transaction(txn)
        if result is not None:
            await self.after(result)
        return result

    async def idle(self) -> None:
        """Wait until no local step runs (tests and shutdown)."""
        await self._tasks.wait_idle()

    async def close(self) -> None:
        """Stop local tasks (the activities stay in the database for whoever resumes them)."""
        await self._tasks.close()
