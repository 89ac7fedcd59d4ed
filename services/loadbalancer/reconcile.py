"""The periodic reconcile: compare recorded membership with the load balancer, report drift.

Drift per pool: ``missing`` (recorded, absent on the load balancer), ``unexpected`` (present,
never added by vmscale — reported, never removed: base VMs live there too) and ``mismatched``
(recorded ``active`` but not enabled, or recorded ``drained`` but enabled). A pool's drift is
published when it changes, not on every pass. With ``repair`` on, missing members are added
again (health-gated, like a new add) and mismatched admin states are set back.

With several replicas the loop runs on one at a time (a singleton lease, ``app.py``); ``fence``
is called before each pool's repair and drift event and raises when this replica no longer
holds the lease, so a replica that lost it stops before writing anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

from services.loadbalancer.membership import Membership
from services.loadbalancer.records import Desired, MemberRecord
from shared import subjects
from shared.errors import ConfigurationError, VmscaleError
from shared.messages import AddPoolMember, MemberAdmin, PoolDriftDetected, PoolMember
from shared.telemetry import get_logger

__all__ = ["Reconciler"]

log = get_logger(__name__)


def _mismatch(record: MemberRecord, member: PoolMember) -> bool:
    if record.desired is Desired.ACTIVE:
        return member.admin is not MemberAdmin.ENABLED
    if record.desired is Desired.DRAINED:
        return member.admin is MemberAdmin.ENABLED
    return False


class Reconciler:
    """Finds (and optionally repairs) drift between records and the load balancer."""

    def __init__(
        self, membership: Membership, *, repair: bool = False, fence: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.membership = membership
        self.repair = repair
        self.fence = fence
        self._last: dict[str, PoolDriftDetected] = {}

    async def run_once(self) -> list[PoolDriftDetected]:
        """One pass over every pool with records; returns the drift events it published."""
        by_pool: dict[str, list[MemberRecord]] = defaultdict(list)
        for record in await self.membership.records.all():
            by_pool[record.pool].append(record)
        running = self.membership.running()
        published = []
        for pool, records in sorted(by_pool.items()):
            try:
                actual = {m.name: m for m in await self.membership.driver.members(pool)}
            except ConfigurationError:
                actual = {}
            except VmscaleError as exc:
                log.warning("reconcile skipped a pool", pool=pool, error=str(exc))
                continue
            settled = [r for r in records if (r.pool, r.name) not in running]
            recorded = {r.name for r in records}
            missing = [r for r in settled if r.name not in actual and r.desired is not Desired.DRAINED]
            mismatched = [r for r in settled if r.name in actual and _mismatch(r, actual[r.name])]
            unexpected = sorted(name for name in actual if name not in recorded)
            if self.fence is not None and (missing or mismatched or unexpected or pool in self._last):
                await self.fence()
            repaired = await self._repair(missing, mismatched) if self.repair else []
            drift = PoolDriftDetected(
                pool=pool,
                missing=tuple(r.name for r in missing),
                unexpected=tuple(unexpected),
                mismatched=tuple(r.name for r in mismatched),
                repaired=tuple(repaired),
            )
            previous = self._last.get(pool)
            signature = (drift.missing, drift.unexpected, drift.mismatched)
            if previous is None or signature != (previous.missing, previous.unexpected, previous.mismatched):
                if any(signature) or previous is not None:
                    await self.membership.events.publish(subjects.POOL_DRIFT_DETECTED, drift)
                    published.append(drift)
            self._last[pool] = drift
        return published

    async def _repair(self, missing: list[MemberRecord], mismatched: list[MemberRecord]) -> list[str]:
        repaired = []
        driver = self.membership.driver
        for record in missing:
            try:
                await self.membership.add(
                    AddPoolMember(
                        pool=record.pool,
                        name=record.name,
                        address=record.address,
                        port=record.port,
                        activity_id=record.activity_id,
                        timeout_s=record.timeout_s or 120.0,
                    )
                )
                repaired.append(record.name)
            except VmscaleError as exc:
                log.warning("reconcile could not re-add", pool=record.pool, member=record.name, error=str(exc))
        for record in mismatched:
            try:
                if record.desired is Desired.ACTIVE:
                    await driver.enable(record.pool, record.name)
                else:
                    await driver.force_offline(record.pool, record.name)
                repaired.append(record.name)
            except VmscaleError as exc:
                log.warning("reconcile could not fix state", pool=record.pool, member=record.name, error=str(exc))
        return repaired
