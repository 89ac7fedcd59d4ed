"""Use case: decide, record the decision, and start an activity — for every trigger.

Triggers: ``alert.fired`` (the original's step policy), the target-tracking loop, schedules,
manual requests, and a re-check of a still-firing alert once its cooldown (or the activity it
caused) ends. For each: read Prometheus (alerts are hints) → take the group lease → in one
transaction check the fencing token, build ``Observed`` from the instance table, ``decide``,
store the decision (allowed or blocked) and, when allowed, claim the cooldown, reserve addresses
or pick victims and start the activity, whose first commands go to the outbox in the same
transaction. If the activity cannot start, the transaction rolls back: no cooldown is consumed.
The activity carries its claim (``CooldownClaim``): if it rolls back without changing capacity,
the claim is given back and a shorter failure back-off applies instead (``domain.backoff``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.scaler.activities import Activities, sync_silence
from services.scaler.domain import saga
from services.scaler.domain.backoff import backoff_remaining
from services.scaler.domain.decide import (
    Allow,
    Block,
    BlockReason,
    classify_alert,
    decide,
    rule_of,
    target_tracking_desired,
)
from services.scaler.domain.errors import PoolExhausted, StaleLease
from services.scaler.domain.model import (
    AlertSignal,
    ManualChange,
    MetricReading,
    Observed,
    Policy,
    Recommendation,
    ScalingGroup,
    ScheduledAction,
    StepPolicy,
    TargetTrackingPolicy,
)
from services.scaler.domain.schedule import due
from services.scaler.outbox import OutboxRelay
from services.scaler.pingcheck import PingCheck, free_ips, ping_check
from services.scaler.plans import plan_in, plan_out
from services.scaler.ports import (
    AddressProbe,
    AlertRecord,
    DecisionRecord,
    GroupLease,
    GroupRecord,
    MetricsQuery,
    OutboxEntry,
    Store,
    UnitOfWork,
)
from shared import subjects
from shared.messages import (
    ActivityStarted,
    AlertFired,
    AlertResolved,
    DecisionRecorded,
    ScaleDirection,
    deterministic_id,
)
from shared.testing.clock import Clock

__all__ = ["DecisionConfig", "Decisions"]

QUIET_S = 300.0
"""A background trigger does not record the same block for the same rule twice within this."""


@dataclass(frozen=True)
class DecisionConfig:
    """Decision settings of this replica."""

    owner: str
    lease_ttl_s: float = 15.0
    alert_expiry_s: float = 900.0


class Decisions:
    """Turns triggers into recorded decisions and started activities."""

    def __init__(
        self,
        store: Store,
        lease: GroupLease,
        metrics: MetricsQuery,
        activities: Activities,
        relay: OutboxRelay,
        clock: Clock,
        config: DecisionConfig,
        addresses: AddressProbe | None = None,
    ) -> None:
        self._addresses = addresses
        self._store = store
        self._lease = lease
        self._metrics = metrics
        self._activities = activities
        self._relay = relay
        self._clock = clock
        self.config = config

    # -- triggers -------------------------------------------------------------------------------

    async def on_alert_fired(self, event: AlertFired) -> DecisionRecord | None:
        """Decide on the alert; the episode is remembered (idempotent by message id) in the same
        transaction as the decision, so a failed decision leaves the message to be redelivered."""
        record = await self._store.transaction(lambda uow: uow.groups.get(event.group))
        if record is None:
            return None
        return await self.evaluate(event.group, StepPolicy(), f"alert:{event.alertname}", fired=event, record=record)

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
        return await self.evaluate(group, change, f"manual:{change.actor}")

    async def tick(self) -> None:
        """Re-check firing alerts after cooldowns, run target tracking and due schedules."""
        now = self._clock.now()
        records, firing = await self._store.transaction(lambda uow: (uow.groups.all(), uow.alerts.firing()))
        by_group: dict[str, list[AlertRecord]] = {}
        for alert in firing:
            by_group.setdefault(alert.group, []).append(alert)
        for record in records:
            spec, state = record.spec, record.state
            if not spec.enabled:
                continue
            for alert in by_group.get(spec.name, []):
                if self._recheck_due(record, alert, now):
                    await self.evaluate(spec.name, StepPolicy(), "recheck", alert=alert, quiet=True)
            tracking = spec.target_tracking()
            if tracking is not None and (
                state.last_tracking_at is None or (now - state.last_tracking_at).total_seconds() >= tracking.interval_s
            ):
                await self.evaluate(spec.name, tracking, "target_tracking", quiet=True)
            for policy in spec.policies:
                if isinstance(policy, ScheduledAction) and due(
                    policy, state.schedule_runs.get(policy.name), now, record.created_at
                ):
                    await self.evaluate(spec.name, policy, f"schedule:{policy.name}")

    def _recheck_due(self, record: GroupRecord, alert: AlertRecord, now: datetime) -> bool:
        if (now - alert.received_at).total_seconds() > self.config.alert_expiry_s:
            return False
        direction = classify_alert(record.spec, alert.alertname, alert.labels)
        if direction is None:
            return False
        state = record.state
        last, period = (
            (state.last_scale_out_at, record.spec.scale_out_cooldown_s)
            if direction is ScaleDirection.OUT
            else (state.last_scale_in_at, record.spec.scale_in_cooldown_s)
        )
        cooldown_end = last + timedelta(seconds=period) if last is not None else None
        if cooldown_end is not None and now < cooldown_end:
            return False
        if backoff_remaining(state.failure_backoff, direction, now) > 0:
            return False
        backoff_end = state.failure_backoff.until if state.failure_backoff is not None else None
        marks = [m for m in (cooldown_end, state.last_activity_end_at, backoff_end) if m is not None]
        if alert.last_evaluated_at is None:
            return True
        return bool(marks) and alert.last_evaluated_at < max(marks)

    # -- the decision ---------------------------------------------------------------------------

    async def evaluate(
        self,
        group: str,
        policy: Policy,
        trigger: str,
        *,
        alert: AlertRecord | None = None,
        fired: AlertFired | None = None,
        quiet: bool = False,
        record: GroupRecord | None = None,
    ) -> DecisionRecord | None:
        """Decide for ``group`` now; returns the stored decision (None if nothing was stored).

        ``record`` (the group as just read) saves a read; the decision re-reads it locked.
        ``fired`` is an alert message to remember in the decision's transaction (then ``alert``
        is derived from it). What the transaction recorded in the outbox is published right
        after the commit, without reading it back.
        """
        if record is None:
            record = await self._store.transaction(lambda uow: uow.groups.get(group))
        if record is None:
            return None
        metrics: MetricReading | None = None
        if isinstance(policy, StepPolicy):
            metrics = await self._metrics.read(record.spec)
        elif isinstance(policy, TargetTrackingPolicy):
            metrics = await self._metrics.read(record.spec, policy)
        ping = await self._ping_check(record.spec, policy, fired or alert)
        lease = await self._lease.acquire(group, self.config.owner, self.config.lease_ttl_s)
        now = self._clock.now()
        if lease is None:
            block = Block(
                reason=BlockReason.IN_PROGRESS,
                message="another decision or activity holds the group's lease",
                rule=rule_of(record.spec, policy),
            )
            return await self._record_block(group, block, trigger, {"lease": "held elsewhere"}, fired, now, quiet)
        try:
            stored, activity, entries = await self._store.transaction(
                lambda uow: self._decide(
                    uow, group, policy, trigger, alert, fired, metrics, ping, lease.token, now, quiet
                )
            )
        except PoolExhausted as exc:
            await self._lease.release(lease)
            block = Block(reason=BlockReason.IP_POOL_EXHAUSTED, message=str(exc), rule=rule_of(record.spec, policy))
            return await self._record_block(group, block, trigger, {}, fired, now, False)
        except BaseException:
            await self._lease.release(lease)
            raise
        if activity is not None:
            self._activities.adopt(activity, lease)
            await self._activities.after(activity, entries)
        else:
            await self._lease.release(lease)
            await self._relay.publish_committed(entries)
        return stored

    async def _ping_check(
        self, spec: ScalingGroup, policy: Policy, signal: AlertFired | AlertRecord | None
    ) -> PingCheck | None:
        """Probe the addresses a scale-out would take next (pool with ``ping_check`` only)."""
        if self._addresses is None:
            return None
        if isinstance(policy, StepPolicy) and (
            signal is None or classify_alert(spec, signal.alertname, signal.labels) is not ScaleDirection.OUT
        ):
            return None
        return await ping_check(self._store, self._addresses, spec)

    async def _record_block(
        self,
        group: str,
        block: Block,
        trigger: str,
        observed: dict[str, Any],
        fired: AlertFired | None,
        now: datetime,
        quiet: bool,
    ) -> DecisionRecord | None:
        """Record a block decided outside the decision transaction (and remember its alert)."""

        def txn(uow: UnitOfWork) -> tuple[DecisionRecord | None, list[OutboxEntry]]:
            if fired is not None and self._remember(uow, fired, now) is None:
                return None, []
            stored = self._record(uow, group, block, trigger, observed, None, now, quiet)
            return stored, uow.outbox.recorded()

        stored, entries = await self._store.transaction(txn)
        await self._relay.publish_committed(entries)
        return stored

    def _decide(
        self,
        uow: UnitOfWork,
        name: str,
        policy: Policy,
        trigger: str,
        alert: AlertRecord | None,
        fired: AlertFired | None,
        metrics: MetricReading | None,
        ping: PingCheck | None,
        token: int,
        now: datetime,
        quiet: bool,
    ) -> tuple[DecisionRecord | None, saga.Activity | None, list[OutboxEntry]]:
        if fired is not None:
            alert = self._remember(uow, fired, now)
            if alert is None:  # a redelivered message: decided before
                return None, None, []
        record = uow.groups.get(name, for_update=True)
        if record is None:
            return None, None, []
        if record.state.lease_fence > token:
            raise StaleLease("a newer lease holder exists", group=name)
        spec = record.spec
        instances = uow.instances.all(name)
        active = uow.activities.active(name)
        pool = uow.ip_pools.get(spec.ip_pool)
        leases = uow.ip_pools.leases(spec.ip_pool, for_update=True) if pool is not None else []
        signal = None
        if alert is not None:
            signal = AlertSignal(
                alertname=alert.alertname,
                fingerprint=alert.fingerprint,
                starts_at=alert.starts_at,
                received_at=alert.received_at,
                labels=alert.labels,
            )
        observed = Observed(
            instances=tuple(instances),
            in_progress=active[0].id if active else None,
            last_scale_out_at=record.state.last_scale_out_at,
            last_scale_in_at=record.state.last_scale_in_at,
            free_ips=free_ips(pool, leases, ping),
            alert=signal,
            metrics=metrics,
            recommendations=record.state.recommendations,
            failure_backoff=record.state.failure_backoff,
            last_activity_end_at=record.state.last_activity_end_at,
        )
        decision = decide(spec, policy, observed, now)
        state_update: dict[str, Any] = {"lease_fence": token}
        if isinstance(policy, TargetTrackingPolicy):
            state_update["last_tracking_at"] = now
            if metrics is not None and metrics.available and metrics.value is not None:
                raw = target_tracking_desired(observed.size, metrics.value, policy)
                horizon = max(policy.up_stabilization_s, policy.down_stabilization_s)
                kept = tuple(r for r in record.state.recommendations if (now - r.at).total_seconds() <= horizon)
                state_update["recommendations"] = (*kept, Recommendation(at=now, desired=raw))
        if isinstance(policy, ScheduledAction):
            state_update["schedule_runs"] = {**record.state.schedule_runs, policy.name: now}
        activity: saga.Activity | None = None
        decision_id = str(uuid.uuid4())
        if isinstance(decision, Allow):
            activity_id, owner = f"act-{uuid.uuid4().hex[:16]}", self.config.owner
            if decision.delta > 0:
                previous = record.state.last_scale_out_at
                state_update["last_scale_out_at"] = now
                activity = plan_out(
                    uow, spec, instances, pool, leases, ping, decision, activity_id, trigger, now, token, owner
                )
            else:
                previous = record.state.last_scale_in_at
                state_update["last_scale_in_at"] = now
                activity = plan_in(uow, spec, instances, decision, activity_id, trigger, now, token, owner)
            claim = saga.CooldownClaim(claimed_at=now, previous=previous)
            activity = activity.model_copy(update={"decision_id": decision_id, "cooldown_claim": claim})
        updated = record.model_copy(update={"state": record.state.model_copy(update=state_update), "updated_at": now})
        uow.groups.save(updated)
        summary = observed.summary()
        if ping is not None and ping.answered:
            summary["ip_in_use"] = sorted(str(a) for a in ping.answered)
        stored = self._record(
            uow, name, decision, trigger, summary, activity.id if activity else None, now, quiet, decision_id
        )
        if alert is not None:
            uow.alerts.save(alert.model_copy(update={"last_evaluated_at": now}))
        if activity is not None:
            uow.outbox.add(
                subjects.ACTIVITY_STARTED,
                ActivityStarted(
                    message_id=deterministic_id("start", activity.id),
                    correlation_id=activity.id,
                    activity_id=activity.id,
                    group=name,
                    kind=activity.kind,
                    delta=decision.delta if isinstance(decision, Allow) else 0,
                    cause=activity.cause,
                ),
            )
            activity = self._activities.advance(uow, None, activity, now)
        sync_silence(uow, uow.groups.get(name) or updated, now)
        return stored, activity, uow.outbox.recorded()

    def _record(
        self,
        uow: UnitOfWork,
        group: str,
        decision: Allow | Block,
        trigger: str,
        observed: dict[str, Any],
        activity_id: str | None,
        now: datetime,
        quiet: bool,
        decision_id: str | None = None,
    ) -> DecisionRecord | None:
        reason = "allowed" if isinstance(decision, Allow) else str(decision.reason)
        message = decision.reason if isinstance(decision, Allow) else decision.message
        if quiet and isinstance(decision, Block):
            record = uow.groups.get(group)
            if record is not None:
                seen = record.state.quiet_blocks.get(decision.rule, "")
                last_reason, _, last_at = seen.partition("@")
                if (
                    last_reason == reason
                    and last_at
                    and (now - datetime.fromisoformat(last_at)).total_seconds() < QUIET_S
                ):
                    return None
                quiet_blocks = {**record.state.quiet_blocks, decision.rule: f"{reason}@{now.isoformat()}"}
                uow.groups.save(
                    record.model_copy(update={"state": record.state.model_copy(update={"quiet_blocks": quiet_blocks})})
                )
        stored = DecisionRecord(
            id=decision_id or str(uuid.uuid4()),
            group=group,
            at=now,
            allowed=isinstance(decision, Allow),
            delta=decision.delta if isinstance(decision, Allow) else 0,
            reason=reason,
            message=message,
            trigger=trigger,
            rule=decision.rule,
            observed=observed,
            activity_id=activity_id,
        )
        uow.decisions.add(stored)
        uow.outbox.add(
            subjects.DECISION_RECORDED,
            DecisionRecorded(
                message_id=uuid.UUID(stored.id),
                correlation_id=activity_id,
                group=group,
                allowed=stored.allowed,
                delta=stored.delta,
                reason=f"{reason}: {message}",
                trigger=trigger,
                observed=observed,
                activity_id=activity_id,
            ),
        )
        return stored
