"""Use case: the control loop — evaluate, decide, record, and start an activity.

Level-triggered (DESIGN §3a): every ``evaluation_interval_s`` each enabled group without a running
activity is evaluated: first convergence (below min, owed replacements of lost VMs, above max),
then the step policy's two rules read from Prometheus over their ``for:`` windows with fresh
evidence only (``domain.condition``). An ``alert.fired`` is stored first and only brings the
group's evaluation forward; losing, repeating or dead-lettering one changes nothing. Target
tracking, schedules and manual requests decide through the same path. For each decision: take
the group lease (fenced, its token never below the database's) → in one transaction check the
fence, build ``Observed`` from the instance table, ``decide``, store the decision (allowed or
blocked; a loop evaluation that wants nothing stores nothing) and, when allowed, claim the
cooldown, reserve addresses or pick victims and start the activity, whose first commands go to
the outbox in the same transaction. If the activity cannot start, the transaction rolls back: no
cooldown is consumed. The activity carries its claim (``CooldownClaim``): if it rolls back
without changing capacity, the claim is given back and a shorter failure back-off applies
instead (``domain.backoff``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.scaler.activities import Activities, sync_silence
from services.scaler.domain import saga
from services.scaler.domain.condition import assess
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
    Condition,
    Converge,
    GroupState,
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
from shared.errors import VmscaleError
from shared.messages import (
    ActivityStarted,
    AlertFired,
    AlertResolved,
    DecisionRecorded,
    ScaleDirection,
    deterministic_id,
)
from shared.telemetry import get_logger
from shared.testing.clock import Clock

__all__ = ["DecisionConfig", "Decisions", "last_direction", "read_condition"]

log = get_logger(__name__)

QUIET_S = 300.0
"""A background trigger does not record the same block for the same rule twice within this."""


@dataclass(frozen=True)
class DecisionConfig:
    """Decision settings of this replica."""

    owner: str
    lease_ttl_s: float = 15.0
    evaluation_interval_s: float = 15.0
    """How often every enabled group is evaluated (also the step of the range queries)."""


@dataclass(frozen=True)
class _Inputs:
    """What one decision reads besides the database: its trigger and what was asked outside."""

    policy: Policy
    trigger: str
    now: datetime
    token: int = 0
    quiet: bool = False
    alert: AlertRecord | None = None
    metrics: MetricReading | None = None
    condition: Condition | None = None
    ping: PingCheck | None = None


async def read_condition(
    metrics: MetricsQuery, spec: ScalingGroup, state: GroupState, now: datetime, step_s: float
) -> Condition:
    """The step policy's rules over their ``for:`` windows (one range query every ``step_s``),
    judged with fresh evidence only after the group's latest activity."""
    span = max(spec.thresholds.out_for_s, spec.thresholds.in_for_s) + 2 * step_s
    history = await metrics.history(spec, now - timedelta(seconds=span), now, step_s)
    return assess(spec, history, now, floor=state.last_activity_end_at, last_direction=last_direction(state))


def last_direction(state: GroupState) -> ScaleDirection | None:
    """The direction of the group's latest scaling activity (by its claimed start)."""
    out, in_ = state.last_scale_out_at, state.last_scale_in_at
    if out is None and in_ is None:
        return None
    if in_ is None or (out is not None and out >= in_):
        return ScaleDirection.OUT
    return ScaleDirection.IN


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
        self._next: dict[str, datetime] = {}
        self._kicked: set[str] = set()

    # -- triggers -------------------------------------------------------------------------------

    async def on_alert_fired(self, event: AlertFired) -> DecisionRecord | None:
        """Store the alert episode first (idempotent by message id), then evaluate the group at
        once. The alert is a hint: Prometheus decides, and an evaluation that fails here is left
        to the loop (the group is evaluated again next tick), so the message never needs a
        redelivery to be decided."""
        now = self._clock.now()

        def store(uow: UnitOfWork) -> AlertRecord | None:
            if uow.groups.get(event.group) is None:
                return None
            return self._remember(uow, event, now)

        alert = await self._store.transaction(store)
        if alert is None:
            return None
        try:
            return await self.evaluate_group(event.group, alert=alert)
        except VmscaleError as exc:
            self._kicked.add(event.group)
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
        return await self.evaluate(group, change, f"manual:{change.actor}")

    async def tick(self) -> None:
        """One round of the loop: evaluate every enabled group that is due (each
        ``evaluation_interval_s``, or at once when an alert asked), run target tracking and due
        schedules. One group's failure is logged and does not hold up the others."""
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
                self._kicked.add(name)
                log.warning("evaluation failed; retrying next round", group=name, error=str(exc))

    async def _tick_group(self, record: GroupRecord, busy: bool, now: datetime) -> None:
        spec, state = record.spec, record.state
        name = spec.name
        if not busy and (name in self._kicked or now >= self._next.get(name, now)):
            self._kicked.discard(name)
            self._next[name] = self._next_due(record, now)
            await self.evaluate_group(name)
        tracking = spec.target_tracking()
        if tracking is not None and (
            state.last_tracking_at is None or (now - state.last_tracking_at).total_seconds() >= tracking.interval_s
        ):
            await self.evaluate(name, tracking, "target_tracking", quiet=True)
        for policy in spec.policies:
            if isinstance(policy, ScheduledAction) and due(
                policy, state.schedule_runs.get(policy.name), now, record.created_at
            ):
                await self.evaluate(name, policy, f"schedule:{policy.name}")

    def _next_due(self, record: GroupRecord, now: datetime) -> datetime:
        """One interval from now, or sooner when a cooldown or back-off ends before that (the
        next step under sustained load comes at the cooldown's end, not up to an interval later)."""
        spec, state = record.spec, record.state
        due = now + timedelta(seconds=self.config.evaluation_interval_s)
        marks = [state.failure_backoff.until if state.failure_backoff is not None else None]
        if state.last_scale_out_at is not None:
            marks.append(state.last_scale_out_at + timedelta(seconds=spec.scale_out_cooldown_s))
        if state.last_scale_in_at is not None:
            marks.append(state.last_scale_in_at + timedelta(seconds=spec.scale_in_cooldown_s))
        return min([due, *(m for m in marks if m is not None and m > now)])

    def kick(self, group: str) -> None:
        """Evaluate ``group`` on the next tick instead of waiting for its interval."""
        self._kicked.add(group)

    async def evaluate_group(self, group: str, *, alert: AlertRecord | None = None) -> DecisionRecord | None:
        """Evaluate the group's level now: convergence first, then the step policy's rules.

        Returns the stored decision; None when nothing was wanted (a loop evaluation that finds
        the group within its limits and neither rule holding stores nothing).
        """
        now = self._clock.now()

        def read(uow: UnitOfWork) -> tuple[GroupRecord | None, int]:
            found = uow.groups.get(group)
            return found, sum(1 for i in uow.instances.all(group) if i.counts)

        record, size = await self._store.transaction(read)
        if record is None or not record.spec.enabled:
            return None
        spec, state = record.spec, record.state
        if size < spec.min_size or size > spec.max_size or (state.replacements_owed > 0 and size < spec.max_size):
            return await self.evaluate(group, Converge(), "converge", quiet=True, record=record)
        condition = await self.condition(spec, state, now)
        if alert is None and condition.available and condition.direction is None:
            return None
        trigger = f"alert:{alert.alertname}" if alert is not None else "evaluation"
        return await self.evaluate(
            group, StepPolicy(), trigger, alert=alert, condition=condition, quiet=alert is None, record=record
        )

    async def condition(self, spec: ScalingGroup, state: GroupState, now: datetime) -> Condition:
        """The step policy's rules over their ``for:`` windows, read from Prometheus now."""
        return await read_condition(self._metrics, spec, state, now, self.config.evaluation_interval_s)

    # -- the decision ---------------------------------------------------------------------------

    async def evaluate(
        self,
        group: str,
        policy: Policy,
        trigger: str,
        *,
        alert: AlertRecord | None = None,
        condition: Condition | None = None,
        quiet: bool = False,
        record: GroupRecord | None = None,
    ) -> DecisionRecord | None:
        """Decide for ``group`` now; returns the stored decision (None if nothing was stored).

        ``record`` (the group as just read) saves a read; the decision re-reads it locked.
        ``condition`` is the step policy's reading when the caller made it (else it is read
        here). What the transaction recorded in the outbox is published right after the
        commit, without reading it back.
        """
        if record is None:
            record = await self._store.transaction(lambda uow: uow.groups.get(group))
        if record is None:
            return None
        metrics: MetricReading | None = None
        if isinstance(policy, StepPolicy) and condition is None:
            condition = await self.condition(record.spec, record.state, self._clock.now())
        elif isinstance(policy, TargetTrackingPolicy):
            metrics = await self._metrics.read(record.spec, policy)
        ping = await self._ping_check(record.spec, policy, alert, condition)
        lease = await self._lease.acquire(group, self.config.owner, self.config.lease_ttl_s, record.state.lease_fence)
        inputs = _Inputs(
            policy,
            trigger,
            self._clock.now(),
            quiet=quiet,
            alert=alert,
            metrics=metrics,
            condition=condition,
            ping=ping,
        )
        if lease is None:
            block = Block(
                reason=BlockReason.IN_PROGRESS,
                message="another decision or activity holds the group's lease",
                rule=rule_of(record.spec, policy),
            )
            return await self._record_block(group, block, inputs, {"lease": "held elsewhere"})
        inputs = dataclasses.replace(inputs, token=lease.token)
        try:
            stored, activity, entries = await self._store.transaction(lambda uow: self._decide(uow, group, inputs))
        except PoolExhausted as exc:
            await self._lease.release(lease)
            block = Block(reason=BlockReason.IP_POOL_EXHAUSTED, message=str(exc), rule=rule_of(record.spec, policy))
            return await self._record_block(group, block, dataclasses.replace(inputs, quiet=False), {})
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
        self, spec: ScalingGroup, policy: Policy, alert: AlertRecord | None, condition: Condition | None
    ) -> PingCheck | None:
        """Probe the addresses a scale-out would take next (pool with ``ping_check`` only)."""
        if self._addresses is None:
            return None
        if isinstance(policy, Converge) and policy.lost:
            return None
        if isinstance(policy, StepPolicy):
            wants_out = condition is not None and condition.direction is ScaleDirection.OUT
            hinted = alert is not None and classify_alert(spec, alert.alertname, alert.labels) is ScaleDirection.OUT
            if not wants_out and not (hinted and (condition is None or not condition.available)):
                return None
        return await ping_check(self._store, self._addresses, spec)

    async def _record_block(
        self, group: str, block: Block, inputs: _Inputs, observed: dict[str, Any]
    ) -> DecisionRecord | None:
        """Record a block decided outside the decision transaction."""

        def txn(uow: UnitOfWork) -> tuple[DecisionRecord | None, list[OutboxEntry]]:
            stored = self._record(uow, group, block, inputs.trigger, observed, None, inputs.now, inputs.quiet)
            return stored, uow.outbox.recorded()

        stored, entries = await self._store.transaction(txn)
        await self._relay.publish_committed(entries)
        return stored

    def _decide(
        self, uow: UnitOfWork, name: str, inputs: _Inputs
    ) -> tuple[DecisionRecord | None, saga.Activity | None, list[OutboxEntry]]:
        policy, trigger, alert, metrics, ping, token, now = (
            inputs.policy,
            inputs.trigger,
            inputs.alert,
            inputs.metrics,
            inputs.ping,
            inputs.token,
            inputs.now,
        )
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
                first=alert.last_evaluated_at is None,
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
            condition=inputs.condition,
            replacements=record.state.replacements_owed,
        )
        decision = decide(spec, policy, observed, now)
        if inputs.quiet and isinstance(decision, Block) and decision.reason is BlockReason.NO_CHANGE:
            return None, None, []  # a loop evaluation that wants nothing records nothing
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
            lost = policy.lost if isinstance(policy, Converge) else ()
            owed = record.state.replacements_owed
            if lost:
                state_update["replacements_owed"] = owed + len(lost)
                activity = plan_in(uow, spec, instances, decision, activity_id, trigger, now, token, owner, lost)
            elif decision.delta > 0:
                previous = record.state.last_scale_out_at
                state_update["last_scale_out_at"] = now
                if isinstance(policy, Converge):
                    state_update["replacements_owed"] = max(0, owed - decision.delta)
                activity = plan_out(
                    uow, spec, instances, pool, leases, ping, decision, activity_id, trigger, now, token, owner
                )
            else:
                previous = record.state.last_scale_in_at
                state_update["last_scale_in_at"] = now
                activity = plan_in(uow, spec, instances, decision, activity_id, trigger, now, token, owner)
            update: dict[str, Any] = {"decision_id": decision_id}
            if not lost:
                update["cooldown_claim"] = saga.CooldownClaim(claimed_at=now, previous=previous)
            activity = activity.model_copy(update=update)
        updated = record.model_copy(update={"state": record.state.model_copy(update=state_update), "updated_at": now})
        uow.groups.save(updated)
        summary = observed.summary()
        if ping is not None and ping.answered:
            summary["ip_in_use"] = sorted(str(a) for a in ping.answered)
        stored = self._record(
            uow, name, decision, trigger, summary, activity.id if activity else None, now, inputs.quiet, decision_id
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
