"""Use case: keep each group's instance table true to the world (DESIGN §3a, convergence).

Every round, for every enabled group without a running activity:

* **late base VMs** — the VMs the group's Prometheus job scrapes that are no instance yet are
  adopted as protected base VMs: at every round while the group is below min (a base VM that
  was not a target yet when the group was enabled), else every ``adopt_every_s``;
* **lost VMs** — an in-service instance that vCenter no longer has, or has powered off, for
  longer than ``lost_grace_s`` is lost: a ``converge`` decision removes it from the group
  (member, target and address freed; an autoscaled VM's remains destroyed, a base VM's left to
  its owner) and owes it a replacement, which the next evaluation launches;
* **the scale-in silence** set at min is renewed every ``silence_renew_s`` for as long as the
  group sits at min (Alertmanager silences expire; the group's state would otherwise lie).

An inventory that cannot vouch for a VM (unreachable, cache not synced) makes no VM lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from services.scaler.decisions import Decisions
from services.scaler.domain.model import Converge, InstanceState, LostVm
from services.scaler.groups import ExistingVms, GroupAdmin
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import GroupRecord, OutboxEntry, Store, UnitOfWork
from shared import subjects
from shared.errors import VmscaleError
from shared.messages import PowerState, SetScaleInSilence
from shared.telemetry import get_logger
from shared.testing.clock import Clock

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
        self._adopted_at: dict[str, datetime] = {}

    async def tick(self) -> None:
        """One round over every enabled group; a group's failure is logged, the rest go on."""

        def read(uow: UnitOfWork) -> tuple[list[GroupRecord], set[str]]:
            return [r for r in uow.groups.all() if r.spec.enabled], {a.group for a in uow.activities.active()}

        records, busy = await self._store.transaction(read)
        for record in records:
            try:
                await self._renew_silence(record)
                if record.spec.name not in busy:
                    await self._adopt(record)
                    await self._find_lost(record)
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

    async def _find_lost(self, record: GroupRecord) -> None:
        if self._presence is None:
            return
        name, now = record.spec.name, self._clock.now()
        instances = await self._store.transaction(lambda uow: uow.instances.all(name))
        serving = [i.vm_name for i in instances if i.state is InstanceState.IN_SERVICE]
        if not serving:
            return
        found = await self._presence(serving)
        lost: list[LostVm] = []
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
        for key in [k for k in self._missing_since if k[0] == name and k[1] not in serving]:
            del self._missing_since[key]
        if lost:
            log.warning("lost VMs: removing and replacing them", group=name, vms=[vm.vm_name for vm in lost])
            decision = await self._decisions.evaluate(name, Converge(lost=tuple(lost)), "converge")
            if decision is not None and decision.allowed:
                for gone in lost:
                    self._missing_since.pop((name, gone.vm_name), None)
