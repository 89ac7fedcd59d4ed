"""Use case: keep each group's instance table true to the world (docs/architecture.md §3a, convergence).

Every round, for every enabled group without a running activity:

* **late base VMs** — the VMs the group's Prometheus job scrapes that are no instance yet are
  adopted as protected base VMs: at every round while the group is below min (a base VM that
  was not a target yet when the group was enabled), else every ``adopt_every_s``;
* **lost VMs** — an in-service instance that vCenter no longer has, or has powered off, for
  longer than ``lost_grace_s``, or that is powered on but unhealthy (Prometheus' scrapes of its
  exporter failing) for longer than ``unhealthy_grace_s`` while other VMs of the group answer,
  is lost: a ``converge`` decision removes it from the group
  (member, target and address freed; an autoscaled VM's remains destroyed, a base VM's left to
  its owner) and owes it a replacement, which the next evaluation launches;
* **pool drift** (``repair_drift``, on by default) — an in-service VM the load balancer's pool
  lacks is added back, the member of a VM vmscale terminated is removed; each repair is a
  decision with its reason, retried at most every ``adopt_every_s``; members vmscale never
  added are left to their owner (reported only);
* **the scale-in silence** set at min is renewed every ``silence_renew_s`` for as long as the
  group sits at min (Alertmanager silences expire; the group's state would otherwise lie).

An inventory that cannot vouch for a VM (unreachable, cache not synced) makes no VM lost; neither
does a Prometheus that cannot answer, or one that reaches none of the group's VMs (its own
network trouble, not theirs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scaler.decisions import Decisions
from services.scaler.domain.model import Converge, Instance, InstanceState, LostVm
from services.scaler.groups import ExistingVms, GroupAdmin
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import GroupRecord, MetricsQuery, OutboxEntry, Store, UnitOfWork
from shared import subjects
from shared.clock import Clock
from shared.errors import VmscaleError
from shared.messages import AddPoolMember, PowerState, RemovePoolMember, SetScaleInSilence
from shared.telemetry import get_logger

__all__ = ["ReconcileConfig", "Reconciler", "VmPresence"]

log = get_logger(__name__)

VmPresence = Callable[[list[str]], Awaitable[dict[str, str]]]
"""The power state (``poweredOn``, ``poweredOff``, ``suspended``) of each VM of the names given
that vCenter has; a name it lacks is absent. Raises a ``VmscaleError`` when the inventory cannot
vouch for its answer (unreachable, or its cache is not synced yet)."""


@dataclass(frozen=True)
class ReconcileConfig:
    """How patient the reconciliation is."""

    lost_grace_s: float = 60.0
    adopt_every_s: float = 60.0
    silence_renew_s: float = 600.0
    unhealthy_grace_s: float = 300.0
    interval_s: float = 15.0
    """One round per evaluation interval: each round asks the inventory about every group's VMs."""


class Reconciler:
    """Adoption, lost-VM detection and silence renewal, one round at a time."""

    def __init__(
        self,
        store: Store,
        decisions: Decisions,
        admin: GroupAdmin,
        relay: OutboxRelay,
        clock: Clock,
        config: ReconcileConfig,
        *,
        presence: VmPresence | None = None,
        existing_vms: ExistingVms | None = None,
        metrics: MetricsQuery | None = None,
    ) -> None:
        self._store = store
        self._decisions = decisions
        self._admin = admin
        self._relay = relay
        self._clock = clock
        self.config = config
        self._presence = presence
        self._existing_vms = existing_vms
        self._missing_since: dict[tuple[str, str], datetime] = {}
        self._unhealthy_since: dict[tuple[str, str], datetime] = {}
        self._repaired_at: dict[tuple[str, str], datetime] = {}
        self._metrics = metrics
        self._adopted_at: dict[str, datetime] = {}
        self._next_round: datetime | None = None

    async def tick(self) -> None:
        """One round over every enabled group when ``interval_s`` has passed since the last; a
        group's failure is logged, the rest go on."""
        now = self._clock.now()
        if self._next_round is not None and now < self._next_round:
            return
        self._next_round = now + timedelta(seconds=self.config.interval_s)

        def read(uow: UnitOfWork) -> tuple[list[GroupRecord], set[str]]:
            return [r for r in uow.groups.all() if r.spec.enabled], {a.group for a in uow.activities.active()}

        records, busy = await self._store.transaction(read)
        for record in records:
            try:
                await self._renew_silence(record)
                if record.spec.name not in busy:
                    await self._adopt(record)
                    await self._find_lost(record)
                    await self._repair_drift(record)
            except VmscaleError as exc:
                log.warning(
                    "reconciliation of a group failed; retrying next round", group=record.spec.name, error=str(exc)
                )

    async def _renew_silence(self, record: GroupRecord) -> None:
        state, now = record.state, self._clock.now()
        if not state.scale_in_silenced:
            return
        if state.scale_in_silence_at is not None and (now - state.scale_in_silence_at).total_seconds() < (
            self.config.silence_renew_s
        ):
            return
        name = record.spec.name

        def txn(uow: UnitOfWork) -> list[OutboxEntry]:
            current = uow.groups.get(name, for_update=True)
            if current is None or not current.state.scale_in_silenced:
                return []
            uow.outbox.add(
                subjects.CMD_MONITORING_SILENCE,
                SetScaleInSilence(
                    group=name, active=True, reason="group still at min_size (renewed)", correlation_id=f"group:{name}"
                ),
            )
            state = current.state.model_copy(update={"scale_in_silence_at": now})
            uow.groups.save(current.model_copy(update={"state": state}))
            return uow.outbox.recorded()

        await self._relay.publish_committed(await self._store.transaction(txn))

    async def _adopt(self, record: GroupRecord) -> None:
        if self._existing_vms is None:
            return
        spec, now = record.spec, self._clock.now()
        instances = await self._store.transaction(lambda uow: uow.instances.all(spec.name))
        below_min = sum(1 for i in instances if i.counts) < spec.min_size
        last = self._adopted_at.get(spec.name)
        if not below_min and last is not None and (now - last).total_seconds() < self.config.adopt_every_s:
            return
        self._adopted_at[spec.name] = now
        known = {i.vm_name for i in instances}
        found = [(name, address) for name, address in await self._existing_vms(spec) if name not in known]
        if found:
            log.info("adopting base VMs found late", group=spec.name, vms=[name for name, _ in found])
            await self._admin.register_base(spec.name, found)

    async def _repair_drift(self, record: GroupRecord) -> None:
        spec, state, now = record.spec, record.state, self._clock.now()
        if not spec.repair_drift or not (state.pool_missing or state.pool_unexpected):
            return
        name = spec.name

        def due(vm: str) -> bool:
            last = self._repaired_at.get((name, vm))
            return last is None or (now - last).total_seconds() >= self.config.adopt_every_s

        def txn(uow: UnitOfWork) -> list[OutboxEntry]:
            by_name = {i.vm_name: i for i in uow.instances.all(name)}
            for vm in state.pool_missing:
                instance = by_name.get(vm)
                if instance is None or instance.state is not InstanceState.IN_SERVICE or instance.address is None:
                    continue
                if not due(vm):
                    continue
                self._repaired_at[(name, vm)] = now
                add = AddPoolMember(
                    correlation_id=f"repair:{name}",
                    pool=spec.pool,
                    name=vm,
                    address=str(instance.address),
                    port=spec.member_port,
                )
                uow.outbox.add(subjects.CMD_POOL_ADD, add)
                what = f"{vm} is in service but missing from pool {spec.pool}: added back"
                self._decisions.record_repair(uow, name, what, {"drift": "missing_from_pool", "vm": vm})
            for vm in state.pool_unexpected:
                instance = by_name.get(vm)
                if instance is None or instance.state not in (InstanceState.TERMINATED, InstanceState.FAILED):
                    continue  # not a VM vmscale added and removed: its owner's business
                if not due(vm):
                    continue
                self._repaired_at[(name, vm)] = now
                uow.outbox.add(
                    subjects.CMD_POOL_REMOVE, RemovePoolMember(correlation_id=f"repair:{name}", pool=spec.pool, name=vm)
                )
                what = f"{vm} was terminated by vmscale but is still in pool {spec.pool}: removed"
                self._decisions.record_repair(uow, name, what, {"drift": "unexpected_in_pool", "vm": vm})
            return uow.outbox.recorded()

        entries = await self._store.transaction(txn)
        if entries:
            missing, unexpected = state.pool_missing, state.pool_unexpected
            log.warning("repairing pool drift", group=name, missing=missing, unexpected=unexpected)
        await self._relay.publish_committed(entries)

    async def _find_lost(self, record: GroupRecord) -> None:
        if self._presence is None:
            return
        name, now = record.spec.name, self._clock.now()
        instances = await self._store.transaction(lambda uow: uow.instances.all(name))
        serving = [i.vm_name for i in instances if i.state is InstanceState.IN_SERVICE]
        if not serving:
            return
        found = await self._presence(serving)
        lost = await self._unhealthy(record, [i for i in instances if found.get(i.vm_name) == PowerState.ON], now)
        for vm in serving:
            power = found.get(vm)
            key = (name, vm)
            if power == PowerState.ON:
                self._missing_since.pop(key, None)
                continue
            since = self._missing_since.setdefault(key, now)
            if (now - since).total_seconds() >= self.config.lost_grace_s:
                why = "deleted from vCenter" if power is None else f"{power} in vCenter"
                lost.append(LostVm(vm_name=vm, reason=f"{why} for {(now - since).total_seconds():.0f} s"))
        for marks in (self._missing_since, self._unhealthy_since):
            for key in [k for k in marks if k[0] == name and k[1] not in serving]:
                del marks[key]
        if lost:
            log.warning("lost VMs: removing and replacing them", group=name, vms=[vm.vm_name for vm in lost])
            decision = await self._decisions.evaluate(name, Converge(lost=tuple(lost)), "converge")
            if decision is not None and decision.allowed:
                for gone in lost:
                    self._missing_since.pop((name, gone.vm_name), None)
                    self._unhealthy_since.pop((name, gone.vm_name), None)

    async def _unhealthy(self, record: GroupRecord, running: list[Instance], now: datetime) -> list[LostVm]:
        """The powered-on VMs whose exporter Prometheus has failed to scrape for longer than
        ``unhealthy_grace_s``; none while Prometheus cannot answer or reaches none of the group."""
        name = record.spec.name
        if self._metrics is None or not running:
            return []
        try:
            health = await self._metrics.target_health(record.spec.prometheus_job)
        except VmscaleError:
            return []
        if not any(health.get(str(i.address)) for i in running):
            return []  # nothing answers: Prometheus' trouble (or the network's), not the VMs'
        lost: list[LostVm] = []
        for instance in running:
            key = (name, instance.vm_name)
            if health.get(str(instance.address)) is not False:
                self._unhealthy_since.pop(key, None)
                continue
            since = self._unhealthy_since.setdefault(key, now)
            down_s = (now - since).total_seconds()
            if down_s >= self.config.unhealthy_grace_s:
                why = f"unhealthy: Prometheus' scrapes failing for {down_s:.0f} s"
                lost.append(LostVm(vm_name=instance.vm_name, reason=why))
        return lost
