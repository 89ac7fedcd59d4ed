"""Use case: one decision — read, lease, observe, decide, record, start.

What asks for a decision is ``triggers.py`` (the loop's tick, alerts, target tracking,
schedules, kicks, operators); it calls ``evaluate_group`` (the group's level: convergence, then
the step policy's rules) or ``evaluate`` (one policy). A decision then reads in one direction:

1. ``observation.read`` — Prometheus (the step policy's rules over their ``for:`` windows with
   fresh evidence only, or target tracking's metric), the ping check, the instances' loads;
2. the group lease (fenced, its token never below the database's; ``_acquire``);
3. in ONE transaction (``_decide``): check the fence, ``observation.snapshot`` + ``observe``
   build ``Observed``, pure ``decide``, the timers update (``domain.timers``), and when allowed
   ``plans.plan_out``/``plan_in`` reserve addresses or pick victims and ``Activities.advance``
   puts the first commands in the outbox; ``decision_log.record_decision`` stores the decision
   (allowed or blocked; a background evaluation that wants nothing stores nothing);
4. after the commit: the outbox entries are published and the activity's local steps launched.

If the activity cannot start, the transaction rolls back: no cooldown is consumed. The activity
carries its cooldown claim: if it rolls back without changing capacity, the claim is given back
and a shorter failure back-off applies instead (``domain.timers.settle_timers``).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.scaler import observation
from services.scaler.activities import Activities
from services.scaler.decision_log import record_decision
from services.scaler.domain import saga
from services.scaler.domain.decide import Allow, Block, BlockReason, decide, rule_of
from services.scaler.domain.errors import PoolExhausted, StaleLease
from services.scaler.domain.model import Condition, Converge, GroupState, Observed, Policy, StepPolicy
from services.scaler.domain.timers import after_run, claim_cooldown
from services.scaler.observation import Readings, Snapshot, Sources
from services.scaler.outbox import OutboxRelay
from services.scaler.plans import Start, plan_in, plan_out
from services.scaler.ports import (
    AddressProbe,
    AlertRecord,
    DecisionRecord,
    GroupLease,
    GroupRecord,
    Lease,
    MetricsQuery,
    OutboxEntry,
    Store,
    UnitOfWork,
)
from services.scaler.silence import sync_silence
from shared import subjects
from shared.clock import Clock
from shared.messages import ActivityStarted, deterministic_id
from shared.telemetry import get_logger

__all__ = ["Ask", "DecisionConfig", "Decisions"]

log = get_logger(__name__)

LEASE_RETRY_S = 0.1
"""How often a decision looks again at a lease another decision (not an activity) holds."""
BACKGROUND_LEASE_WAIT_S = 1.0
"""How long a background evaluation waits for such a lease; the next interval evaluates again."""


@dataclass(frozen=True)
class DecisionConfig:
    """Decision settings of this replica."""

    owner: str
    lease_ttl_s: float = 15.0
    evaluation_interval_s: float = 15.0
    """How often every enabled group is evaluated (also the step of the range queries)."""


@dataclass(frozen=True)
class Ask:
    """One request for a decision: the policy, what asked (``trigger``), when, whether in the
    background (``quiet``: wanting nothing records nothing, repeated blocks are not recorded
    again), and the alert that asked, if one did."""

    policy: Policy
    trigger: str
    now: datetime
    quiet: bool = False
    alert: AlertRecord | None = None


class Decisions:
    """Turns an evaluation request into a recorded decision and, when allowed, a started activity."""

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
        self._store = store
        self._lease = lease
        self._activities = activities
        self._relay = relay
        self._clock = clock
        self.config = config
        self._sources = Sources(metrics, addresses, store, config.evaluation_interval_s)

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
        condition = await self.condition(record, now)
        if alert is None and condition.available and condition.direction is None:
            return None
        trigger = f"alert:{alert.alertname}" if alert is not None else "evaluation"
        return await self.evaluate(
            group, StepPolicy(), trigger, alert=alert, condition=condition, quiet=alert is None, record=record
        )

    async def condition(self, record: GroupRecord, now: datetime) -> Condition:
        """The step policy's rules over their ``for:`` windows, read from Prometheus now."""
        sources = self._sources
        return await observation.read_condition(sources.metrics, record.spec, record.state, now, sources.step_s)

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
        readings = await observation.read(
            self._sources, record, policy, self._clock.now(), alert=alert, condition=condition
        )
        lease = await self._acquire(group, record.state.lease_fence, background=quiet)
        ask = Ask(policy, trigger, self._clock.now(), quiet=quiet, alert=alert)
        if lease is None:
            block = Block(
                reason=BlockReason.IN_PROGRESS,
                message="another decision or activity holds the group's lease",
                rule=rule_of(record.spec, policy),
            )
            return await self._record_block(group, block, ask, {"lease": "held elsewhere"})
        try:
            stored, activity, entries = await self._store.transaction(
                lambda uow: self._decide(uow, group, ask, readings, lease.token)
            )
        except PoolExhausted as exc:
            await self._lease.release(lease)
            block = Block(reason=BlockReason.IP_POOL_EXHAUSTED, message=str(exc), rule=rule_of(record.spec, policy))
            return await self._record_block(group, block, Ask(policy, trigger, ask.now), {})
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

    async def _acquire(self, group: str, fence: int, *, background: bool) -> Lease | None:
        """The group's lease; while another decision (not an activity) holds it, wait for it.

        A decision holds the lease only for its reading and its transaction, and never longer
        than the lease's time to live (a crashed holder's lease expires then), so an alert or an
        operator's request waits up to that and is decided, not answered "in progress" because
        the loop happened to be evaluating the group at that moment. A background evaluation
        waits a second only: the next interval evaluates again.
        """
        wait_s = BACKGROUND_LEASE_WAIT_S if background else self.config.lease_ttl_s
        attempts = max(1, math.ceil(wait_s / LEASE_RETRY_S))
        for attempt in range(attempts):
            lease = await self._lease.acquire(group, self.config.owner, self.config.lease_ttl_s, fence)
            if lease is not None or attempt == attempts - 1:
                return lease
            if await self._store.transaction(lambda uow: bool(uow.activities.active(group))):
                return None  # an activity runs: in progress indeed
            await asyncio.sleep(LEASE_RETRY_S)
        return None

    def record_repair(self, uow: UnitOfWork, group: str, what: str, observed: dict[str, Any]) -> None:
        """Record a convergence repair that changes no size (a member re-added, say) as a
        decision of its own, inside the caller's transaction."""
        repair = Allow(delta=0, reason=what, rule="convergence")
        record_decision(uow, group, repair, trigger="converge", now=self._clock.now(), observed=observed)

    async def _record_block(
        self, group: str, block: Block, ask: Ask, observed: dict[str, Any]
    ) -> DecisionRecord | None:
        """Record a block decided outside the decision transaction."""

        def txn(uow: UnitOfWork) -> tuple[DecisionRecord | None, list[OutboxEntry]]:
            stored = record_decision(
                uow, group, block, trigger=ask.trigger, now=ask.now, observed=observed, quiet=ask.quiet
            )
            return stored, uow.outbox.recorded()

        stored, entries = await self._store.transaction(txn)
        await self._relay.publish_committed(entries)
        return stored

    def _decide(
        self, uow: UnitOfWork, name: str, ask: Ask, readings: Readings, token: int
    ) -> tuple[DecisionRecord | None, saga.Activity | None, list[OutboxEntry]]:
        """The decision transaction (see the module docstring, step 3)."""
        snap = observation.snapshot(uow, name, for_update=True)
        if snap is None:
            return None, None, []
        record, now = snap.record, ask.now
        if record.state.lease_fence > token:
            raise StaleLease("a newer lease holder exists", group=name)
        observed = observation.observe(snap, readings, ask.alert)
        decision = decide(record.spec, ask.policy, observed, now)
        if ask.quiet and isinstance(decision, Block) and decision.reason is BlockReason.NO_CHANGE:
            return None, None, []  # a loop evaluation that wants nothing records nothing
        state = after_run(record.state, ask.policy, observed, now).model_copy(update={"lease_fence": token})
        decision_id = str(uuid.uuid4())
        activity: saga.Activity | None = None
        if isinstance(decision, Allow):
            start = Start(f"act-{uuid.uuid4().hex[:16]}", ask.trigger, now, token, self.config.owner)
            activity, state = self._plan(uow, snap, observed, readings, decision, ask.policy, start, state)
            activity = activity.model_copy(update={"decision_id": decision_id})
        updated = record.model_copy(update={"state": state, "updated_at": now})
        uow.groups.save(updated)
        summary = observed.summary()
        if readings.ping is not None and readings.ping.answered:
            summary["ip_in_use"] = sorted(str(a) for a in readings.ping.answered)
        stored = record_decision(
            uow,
            name,
            decision,
            trigger=ask.trigger,
            now=now,
            observed=summary,
            quiet=ask.quiet,
            activity_id=activity.id if activity else None,
            decision_id=decision_id,
        )
        if ask.alert is not None:
            uow.alerts.save(ask.alert.model_copy(update={"last_evaluated_at": now}))
        if activity is not None and isinstance(decision, Allow):
            uow.outbox.add(
                subjects.ACTIVITY_STARTED,
                ActivityStarted(
                    message_id=deterministic_id("start", activity.id),
                    correlation_id=activity.id,
                    activity_id=activity.id,
                    group=name,
                    kind=activity.kind,
                    delta=decision.delta,
                    cause=activity.cause,
                ),
            )
            activity = self._activities.advance(uow, None, activity, now)
        sync_silence(uow, uow.groups.get(name) or updated, now)
        return stored, activity, uow.outbox.recorded()

    @staticmethod
    def _plan(
        uow: UnitOfWork,
        snap: Snapshot,
        observed: Observed,
        readings: Readings,
        decision: Allow,
        policy: Policy,
        start: Start,
        state: GroupState,
    ) -> tuple[saga.Activity, GroupState]:
        """Plan the allowed decision's activity and claim its cooldown (``timers.claim_cooldown``)."""
        state, claim = claim_cooldown(state, policy, decision.delta, start.now)
        if isinstance(policy, Converge) and policy.lost:
            activity = plan_in(uow, snap, observed.instances, decision, start, policy.lost)
        elif decision.delta > 0:
            activity = plan_out(uow, snap, readings.ping, decision, start)
        else:
            activity = plan_in(uow, snap, observed.instances, decision, start)
        return activity.model_copy(update={"cooldown_claim": claim}), state
