"""``vmscale import DIR``: take over the original system's estate without freezing it.

``DIR`` is the original's ``backend/data`` with, optionally, its PLG files (``import_files``).
The plan (``import_plan``) maps every config to a group, an IP pool and instances; nothing is
skipped: what cannot be taken as it is makes the group disabled with the reason. A dry run (the
default) prints the plan; ``apply_plan`` writes it, one transaction per group, and is
idempotent: a group that exists is left as it is (its missing instances are added), so applying
twice changes nothing. Groups are enabled afterwards (which provisions their alert rules and
routes) only when the original had them enabled, or with ``--enable``, and never when a reason
keeps them disabled.

The running services are asked (over the bus) for what the files cannot say: the VMs behind the
job's addresses (inventory, Prometheus) and the templates vCenter has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from services.scaler.activities import sync_silence
from services.scaler.domain.model import GroupState, Instance, InstanceState, IpLease, LeaseState, ScalingGroup
from services.scaler.groups import ExistingVms, GroupAdmin
from services.scaler.import_files import OriginalData, read_original
from services.scaler.import_plan import GroupPlan, ImportPlan, plan_import
from services.scaler.ports import GroupRecord, Store, UnitOfWork
from shared import subjects
from shared.bus import Bus
from shared.clock import Clock
from shared.errors import Conflict, RetryableError, VmscaleError
from shared.messages import TemplatesQuery, VmsQuery

__all__ = [
    "ApplyReport",
    "JobDiscovery",
    "apply_plan",
    "bus_discovery",
    "bus_templates",
    "discover_plan",
    "job_discovery",
    "run_import",
]

JobDiscovery = Callable[[str], Awaitable[list[tuple[str | None, str]]]]
"""A job's live targets as (VM name or ``None``, IPv4 address)."""


@dataclass
class ApplyReport:
    """What ``apply_plan`` did, per group: created, unchanged, or left as it was (with why)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    enabled: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _same(a: Any, b: Any) -> bool:
    return bool(a.model_dump(exclude={"enabled"}) == b.model_dump(exclude={"enabled"}))


def _group_txn(plan: GroupPlan, now: datetime, problems: list[str]) -> Callable[[UnitOfWork], str]:
    def txn(uow: UnitOfWork) -> str:
        name = plan.spec.name
        existing = uow.groups.get(name, for_update=True)
        if existing is not None and not _same(existing.spec, plan.spec):
            return "exists with other settings: left as it is"
        if existing is None:
            other = next((r.spec.name for r in uow.groups.all() if r.spec.name.lower() == name.lower()), None)
            if other is not None:
                raise Conflict(f"group {other} exists (names are unique regardless of case)", group=name)
            pool = uow.ip_pools.get(plan.pool.name)
            if pool is None:
                uow.ip_pools.save(plan.pool)
            elif pool != plan.pool:
                problems.append(f"{name}: IP pool {pool.name} exists with other settings; it is used as it is")
            state = GroupState(last_scale_out_at=plan.last_scale_out_at, last_scale_in_at=plan.last_scale_in_at)
            uow.groups.save(GroupRecord(spec=plan.spec, state=state, created_at=now, updated_at=now))
        record = uow.groups.get(name)
        assert record is not None
        added = _add_instances(uow, plan, record, now)
        sync_silence(uow, record, now)
        if existing is None:
            return "created"
        return f"exists: {added} instances added" if added else "unchanged"

    return txn


def _add_instances(uow: UnitOfWork, plan: GroupPlan, record: GroupRecord, now: datetime) -> int:
    pool = uow.ip_pools.get(record.spec.ip_pool)
    held = {lease.address for lease in uow.ip_pools.leases(record.spec.ip_pool) if lease.state != "released"}
    added = 0
    for planned in plan.instances:
        if uow.instances.get(record.spec.name, planned.vm_name) is not None:
            continue
        base = planned.role == "base"
        address = IPv4Address(planned.address)
        uow.instances.save(
            Instance(
                group=record.spec.name,
                vm_name=planned.vm_name,
                address=address,
                state=InstanceState.IN_SERVICE,
                protected=base,
                base=base,
                created_at=planned.created_at or now,
            )
        )
        added += 1
        in_range = pool is not None and any(int(r.start) <= int(address) <= int(r.end) for r in pool.ranges)
        if pool is not None and in_range and address not in held:
            uow.ip_pools.save_lease(
                IpLease(
                    pool=pool.name,
                    address=address,
                    group=record.spec.name,
                    vm_name=planned.vm_name,
                    state=LeaseState.CONFIRMED,
                    updated_at=now,
                )
            )
            held.add(address)
    return added


async def apply_plan(plan: ImportPlan, store: Store, admin: GroupAdmin, clock: Clock) -> ApplyReport:
    """Write every planned group (one transaction each); enable those the plan says to."""
    report = ApplyReport()
    for group in plan.groups:
        name = group.spec.name
        try:
            report.outcomes[name] = await store.transaction(_group_txn(group, clock.now(), report.problems))
        except VmscaleError as exc:
            report.outcomes[name] = f"not imported: {exc}"
            continue
        if group.enable:
            try:
                await admin.set_enabled(name, True)
                report.enabled.append(name)
            except VmscaleError as exc:
                report.problems.append(f"{name}: imported, not enabled: {exc}")
    return report


def bus_discovery(bus: Bus, target_addresses: Callable[[str], Awaitable[list[str]]]) -> ExistingVms:
    """Existing VMs of a group: the job's Prometheus target addresses, named by the inventory.

    An address no VM reports is left out (and never invented as a pseudo-VM; lesson 29). The
    scaler adopts these as base instances when a group is enabled (``GroupAdmin``).
    """
    discover = job_discovery(bus, target_addresses)

    async def existing(group: ScalingGroup) -> list[tuple[str, str | None]]:
        return [(name, address) for name, address in await discover(group.prometheus_job) if name]

    return existing


def job_discovery(bus: Bus, target_addresses: Callable[[str], Awaitable[list[str]]]) -> JobDiscovery:
    """A job's live targets (Prometheus), named by the inventory (``None`` where no VM has it)."""

    async def discover(job: str) -> list[tuple[str | None, str]]:
        addresses = {a for a in await target_addresses(job) if _is_ipv4(a)}
        names: dict[str, str] = {}
        offset: int | None = 0
        while offset is not None and addresses:
            reply = await bus.request(subjects.QUERY_INVENTORY_VMS, VmsQuery(has_ip=True, offset=offset))
            if reply.error:
                raise RetryableError(f"inventory: {reply.error}")
            names.update({vm.ip: vm.name for vm in reply.vms if vm.ip in addresses})
            offset = reply.next_offset
        return [(names.get(address), address) for address in sorted(addresses)]

    return discover


def bus_templates(bus: Bus) -> Callable[[], Awaitable[set[str]]]:
    """The names of vCenter's templates, from the inventory."""

    async def templates() -> set[str]:
        reply = await bus.request(subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery())
        if reply.error:
            raise RetryableError(f"inventory: {reply.error}")
        return {t.name for t in reply.templates}

    return templates


def _is_ipv4(text: str) -> bool:
    try:
        IPv4Address(text)
    except ValueError:
        return False
    return True


async def discover_plan(
    data: OriginalData,
    discover: JobDiscovery | None,
    templates: Callable[[], Awaitable[set[str]]] | None,
    *,
    enable: bool = False,
    webhook_base: str = "http://127.0.0.1:6010",
) -> ImportPlan:
    """The plan, with the live targets of every config's job and vCenter's templates when given."""
    found: dict[str, list[tuple[str | None, str]]] = {}
    problems: list[str] = []
    if discover is not None:
        for config in data.configs:
            monitoring = config.get("monitoring") if isinstance(config, dict) else None
            job = str((monitoring or {}).get("prometheusJobName") or "").strip() if isinstance(monitoring, dict) else ""
            if job and job not in found:
                try:
                    found[job] = await discover(job)
                except VmscaleError as exc:
                    problems.append(f"job {job}: live targets not discovered ({exc}); prometheus.yml used alone")
    names: set[str] | None = None
    if templates is not None:
        try:
            names = await templates()
        except VmscaleError as exc:
            problems.append(f"vCenter's templates not listed ({exc})")
    plan = plan_import(data, vcenter_templates=names, discovered=found, enable=enable, webhook_base=webhook_base)
    plan.problems += problems
    return plan


async def run_import(
    settings: Any, directory: Path, *, apply: bool = False, enable: bool = False, discover: bool = True
) -> tuple[ImportPlan, ApplyReport | None]:
    """``vmscale import`` end to end from the scaler's settings (what the CLI calls).

    Reads ``directory``; asks the running services for live targets and templates unless
    ``discover`` is false; with ``apply``, migrates and opens the scaler's database and writes
    the plan. Alert provisioning of groups enabled here goes to the scaler's outbox; the running
    scaler service publishes it.
    """
    import httpx

    from services.scaler.adapters.bus import BusPublisher, BusResourceChecker
    from services.scaler.adapters.prometheus import PrometheusMetrics
    from services.scaler.adapters.sql import SqlStore
    from services.scaler.outbox import OutboxRelay
    from shared.bus import Topology, build_broker
    from shared.clock import SystemClock
    from shared.db import make_engine, upgrade

    data = read_original(directory)
    bus = build_broker(settings.nats_url, client_name="vmscale-import", topology=Topology(settings.subject_prefix))
    clock = SystemClock()
    async with httpx.AsyncClient(trust_env=False) as http:
        metrics = PrometheusMetrics(http, settings.prometheus_url, settings.prometheus_rate_window)
        if discover or apply:
            await bus.broker.connect()
        try:
            found = job_discovery(bus, metrics.target_addresses) if discover else None
            templates = bus_templates(bus) if discover else None
            webhook_base = settings.resolved_webhook_base_url()
            plan = await discover_plan(data, found, templates, enable=enable, webhook_base=webhook_base)
            if not apply:
                return plan, None
            url = settings.resolved_database_url()
            upgrade("scaler", url)
            store = SqlStore(make_engine(url))
            try:
                # writing groups starts no activity: no lease, hook or health probe is needed
                relay = OutboxRelay(store, BusPublisher(bus), clock)
                checker = BusResourceChecker(bus, metrics)
                admin = GroupAdmin(store, checker, relay, clock, webhook_base)
                report = await apply_plan(plan, store, admin, clock)
                await relay.flush()
                return plan, report
            finally:
                store.dispose()
        finally:
            if discover or apply:
                await bus.broker.stop()
