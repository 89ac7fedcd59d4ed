"""Use case: compare each group's instance table with its load balancer pool, report drift.

Inputs: ``pool.updated`` (the load balancer's full member list after a change) and
``pool.drift_detected`` (the load balancer's own reconcile report). Neither side is trusted or
repaired: the differences are stored in the group's state (shown by the group detail's
``DriftView``) and, when they change, published as ``decision.drift_detected``. Groups with a
running activity are skipped: mid-activity the two sides legitimately differ.
"""

from __future__ import annotations

from services.scaler.domain.drift import pool_drift
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import OutboxEntry, Store, UnitOfWork
from shared import subjects
from shared.clock import Clock
from shared.messages import GroupDriftDetected, PoolDriftDetected, PoolUpdated, deterministic_id
from shared.telemetry import get_logger

__all__ = ["DriftWatch"]

log = get_logger(__name__)


class DriftWatch:
    """Keeps every group's pool comparison current and reports drift."""

    def __init__(self, store: Store, relay: OutboxRelay, clock: Clock) -> None:
        self._store = store
        self._relay = relay
        self._clock = clock

    async def on_pool_updated(self, event: PoolUpdated) -> list[GroupDriftDetected]:
        """Compare the groups of ``event.pool`` with its members; returns the drift reported."""
        return await self.compare(event.pool, [(m.name, m.address) for m in event.members], subjects.POOL_UPDATED.name)

    async def compare(self, pool: str, members: list[tuple[str, str]], source: str) -> list[GroupDriftDetected]:
        """Compare, store the result per group, publish drift that is new (idempotent)."""
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> tuple[list[GroupDriftDetected], list[OutboxEntry]]:
            found: list[GroupDriftDetected] = []
            for record in uow.groups.all():
                name = record.spec.name
                if record.spec.pool != pool or uow.activities.active(name):
                    continue
                drift = pool_drift(uow.instances.all(name), members)
                state = record.state
                new = (drift.missing, drift.unexpected) != (state.pool_missing, state.pool_unexpected)
                update = {
                    "pool_missing": drift.missing,
                    "pool_unexpected": drift.unexpected,
                    "pool_members": len(members),
                    "pool_checked_at": now,
                }
                uow.groups.save(record.model_copy(update={"state": state.model_copy(update=update)}))
                if drift.any and new:
                    event = GroupDriftDetected(
                        correlation_id=f"group:{name}",
                        group=name,
                        pool=pool,
                        source=source,
                        missing_from_pool=drift.missing,
                        unexpected_in_pool=drift.unexpected,
                    )
                    uow.outbox.add(subjects.GROUP_DRIFT_DETECTED, event)
                    found.append(event)
            return found, uow.outbox.recorded()

        found, entries = await self._store.transaction(txn)
        await self._relay.publish_committed(entries)
        for event in found:
            log.warning(
                "group and pool disagree",
                group=event.group,
                pool=pool,
                missing=list(event.missing_from_pool),
                unexpected=list(event.unexpected_in_pool),
            )
        return found

    async def on_pool_drift_detected(self, event: PoolDriftDetected) -> list[GroupDriftDetected]:
        """The load balancer found its pool differing from its own records: note it on the
        pool's groups and pass it on as the groups' drift."""
        now = self._clock.now()
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("missing", event.missing),
                ("unexpected", event.unexpected),
                ("mismatched", event.mismatched),
                ("repaired", event.repaired),
            )
            if names
        ]
        note = f"load balancer reported drift on pool {event.pool} at {now:%Y-%m-%d %H:%M:%S}: " + "; ".join(parts)

        def txn(uow: UnitOfWork) -> tuple[list[GroupDriftDetected], list[OutboxEntry]]:
            found: list[GroupDriftDetected] = []
            for record in uow.groups.all():
                if record.spec.pool != event.pool:
                    continue
                state = record.state.model_copy(update={"pool_note": note})
                uow.groups.save(record.model_copy(update={"state": state}))
                reported = GroupDriftDetected(
                    message_id=deterministic_id("pool-drift", str(event.message_id), record.spec.name),
                    correlation_id=f"group:{record.spec.name}",
                    group=record.spec.name,
                    pool=event.pool,
                    source=subjects.POOL_DRIFT_DETECTED.name,
                    note=note,
                )
                uow.outbox.add(subjects.GROUP_DRIFT_DETECTED, reported)
                found.append(reported)
            return found, uow.outbox.recorded()

        found, entries = await self._store.transaction(txn)
        await self._relay.publish_committed(entries)
        return found
