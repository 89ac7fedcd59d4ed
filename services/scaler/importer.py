"""``vmscale import``: take over the original system's configuration.

Reads the original's ``autoscaling-configs.json`` and ``templates.json`` (SPEC-ORIGINAL §5.1,
§5.2), creates one IP pool and one scaling group per config (validated by the same rules as any
group; a config that breaks them is reported, not half-imported), and registers the VMs the
group's Prometheus job already scrapes as protected base instances. Groups are imported
disabled unless ``enable`` is given: enabling provisions alert rules and routes.

The CLI (``cli/``) calls ``import_original``; discovery of existing VMs is injected so the
function runs with the bus-backed ``bus_discovery`` in production and with fakes in tests.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from services.scaler.domain.model import IpPool, ScalingGroup
from services.scaler.groups import GroupAdmin, parse_group, parse_pool
from shared import subjects
from shared.bus import Bus
from shared.errors import Conflict, RetryableError, VmscaleError
from shared.messages import VmsQuery

__all__ = ["Discovery", "ImportReport", "bus_discovery", "convert", "import_original", "run_import"]

Discovery = Callable[[ScalingGroup], Awaitable[list[tuple[str, str | None]]]]
"""Finds a group's existing VMs as (name, IPv4) pairs."""


@dataclass
class ImportReport:
    """What an import did, per original service name."""

    imported: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    base_vms: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _trim(value: Any) -> str:
    return str(value or "").strip()


def convert(config: dict[str, Any], templates: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(group spec, IP-pool spec) from one original config; raises ``ValueError`` with the reason."""
    name = _trim(config.get("serviceName"))
    monitoring = config.get("monitoring") or {}
    scaling = config.get("scaling") or {}
    f5 = config.get("f5") or {}
    network = config.get("network") or {}
    vcenter = config.get("vcenter") or {}
    template_id = _trim(config.get("templateId"))
    template = templates.get(template_id)
    if not template:
        raise ValueError(f"template {template_id!r} is not in templates.json")
    start, end = _trim(network.get("ipPoolStart")), _trim(network.get("ipPoolEnd"))
    if not start or not end:
        raise ValueError("network.ipPoolStart and ipPoolEnd are required")
    netmask = _trim(network.get("subnet")) or "255.255.255.0"
    gateway = _trim(network.get("gateway")) or None
    anchor = gateway or start
    pool_name = f"{name}-ips"
    pool = {
        "name": pool_name,
        "network": str(IPv4Network(f"{anchor}/{netmask}", strict=False)),
        "gateway": gateway,
        "ranges": [{"start": start, "end": end}],
    }
    vip_port = int(f5.get("vipPort") or 80)
    cooldown = int(scaling.get("cooldownPeriod") or 300)
    spec = {
        "name": name,
        "vm_prefix": _trim(config.get("vmPrefix")),
        "template": template,
        "prometheus_job": _trim(monitoring.get("prometheusJobName")),
        "thresholds": {
            "cpu_high": monitoring.get("cpuThreshold", 80),
            "memory_high": monitoring.get("memoryThreshold", 80),
            "out_for_s": int(monitoring.get("duration", 5)) * 60,
            "cpu_low": monitoring.get("scaleInCpuThreshold", 30),
            "memory_low": monitoring.get("scaleInMemoryThreshold", 30),
            "in_for_s": int(monitoring.get("scaleInDuration", 10)) * 60,
        },
        "min_size": int(scaling.get("minVms") or 1),
        "max_size": int(scaling.get("maxVms") or 10),
        "scale_out_step": int(scaling.get("scaleOutStep") or 1),
        "scale_in_step": int(scaling.get("scaleInStep") or 1),
        "scale_out_cooldown_s": cooldown,
        "scale_in_cooldown_s": cooldown,
        "pool": _trim(f5.get("poolName")),
        "vip": _trim(f5.get("vip")),
        "vip_port": vip_port,
        "member_port": vip_port,
        "health_path": _trim(f5.get("healthCheckPath")) or "/",
        "placement": {
            "resource_pool": _trim(vcenter.get("resourcePool")) or None,
            "datastore": _trim(vcenter.get("datastore")) or None,
        },
        "network": _trim(network.get("vlan")) or None,
        "ip_pool": pool_name,
        "ssh_credentials_ref": _trim(config.get("sshKeyPath")),
        "enabled": False,
    }
    return spec, pool


def _read(configs_path: Path, templates_path: Path) -> tuple[dict[str, str], Any]:
    """(template id → name, the configs) from the original's two files (small: read at once)."""
    entries = json.loads(templates_path.read_text(encoding="utf-8"))
    templates = {_trim(t.get("id")): _trim(t.get("name")) for t in entries if isinstance(t, dict)}
    return templates, json.loads(configs_path.read_text(encoding="utf-8"))


async def import_original(
    configs_path: Path,
    templates_path: Path,
    admin: GroupAdmin,
    discover: Discovery | None = None,
    *,
    enable: bool = False,
) -> ImportReport:
    """Import every config; idempotent for groups that already exist (they are skipped)."""
    report = ImportReport()
    templates, configs = _read(configs_path, templates_path)
    if not isinstance(configs, list):
        raise ValueError(f"{configs_path} must hold a JSON array")
    seen: set[str] = set()
    for config in configs:
        name = _trim(config.get("serviceName")) or "<unnamed>"
        if name.lower() in seen:
            report.skipped[name] = "duplicate serviceName (case-insensitive)"
            continue
        seen.add(name.lower())
        try:
            spec_data, pool_data = convert(config, templates)
            pool: IpPool = parse_pool(pool_data)
            spec = parse_group(spec_data)
        except (ValueError, VmscaleError) as exc:
            report.skipped[name] = str(exc)
            continue
        try:
            await admin.save_pool(pool)
            _, problems = await admin.save_group(spec, create=True)
        except Conflict as exc:
            report.skipped[name] = str(exc)
            continue
        report.problems += [f"{name}: {p}" for p in problems]
        report.imported.append(name)
        if discover is not None:
            try:
                vms = await discover(spec)
            except RetryableError as exc:
                report.problems.append(f"{name}: existing VMs not discovered: {exc}")
                vms = []
            if vms:
                await admin.register_base(spec.name, vms)
            report.base_vms[name] = [vm for vm, _ in vms]
        if enable or config.get("enabled"):
            try:
                await admin.set_enabled(spec.name, True)
            except VmscaleError as exc:
                report.problems.append(f"{name}: imported but not enabled: {exc}")
    return report


def bus_discovery(bus: Bus, target_addresses: Callable[[str], Awaitable[list[str]]]) -> Discovery:
    """Existing VMs of a group: the job's Prometheus target addresses, named by the inventory.

    An address no VM reports is left out (and never invented as a pseudo-VM; lesson 29).
    """

    async def discover(group: ScalingGroup) -> list[tuple[str, str | None]]:
        addresses = {a for a in await target_addresses(group.prometheus_job) if _is_ipv4(a)}
        found: list[tuple[str, str | None]] = []
        offset: int | None = 0
        while offset is not None and addresses:
            reply = await bus.request(subjects.QUERY_INVENTORY_VMS, VmsQuery(has_ip=True, offset=offset))
            if reply.error:
                raise RetryableError(f"inventory: {reply.error}")
            found += [(vm.name, vm.ip) for vm in reply.vms if vm.ip in addresses]
            offset = reply.next_offset
        return found

    return discover


def _is_ipv4(text: str) -> bool:
    try:
        IPv4Address(text)
    except ValueError:
        return False
    return True


async def run_import(
    settings: Any, configs_path: Path, templates_path: Path, *, enable: bool = False, discover_vms: bool = True
) -> ImportReport:
    """``vmscale import`` end to end from the scaler's settings (what the CLI calls).

    Migrates and opens the scaler's database, discovers existing VMs through Prometheus and the
    inventory (over the bus) unless ``discover_vms`` is false, and imports. Commands that follow
    (alert provisioning of enabled groups) go to the scaler's outbox; the running scaler service
    publishes them.
    """
    import httpx

    from services.scaler.activities import Activities, EngineConfig
    from services.scaler.adapters.bus import BusPublisher, BusResourceChecker
    from services.scaler.adapters.memory import MemoryHealthProbe, MemoryHooks, MemoryLease
    from services.scaler.adapters.prometheus import PrometheusMetrics
    from services.scaler.adapters.sql import SqlStore
    from services.scaler.outbox import OutboxRelay
    from shared.bus import Topology, build_broker
    from shared.db import make_engine, upgrade
    from shared.testing.clock import SystemClock

    url = settings.resolved_database_url()
    upgrade("scaler", url)
    store = SqlStore(make_engine(url))
    bus = build_broker(settings.nats_url, client_name="vmscale-import", topology=Topology(settings.subject_prefix))
    clock = SystemClock()
    async with httpx.AsyncClient(trust_env=False) as http:
        metrics = PrometheusMetrics(http, settings.prometheus_url, settings.prometheus_rate_window)
        relay = OutboxRelay(store, BusPublisher(bus), clock)
        engine = EngineConfig(owner="vmscale-import")
        activities = Activities(store, MemoryLease(clock), MemoryHealthProbe(), MemoryHooks(), relay, clock, engine)
        admin = GroupAdmin(store, BusResourceChecker(bus, metrics), activities, relay, clock, settings.webhook_base_url)
        await bus.broker.connect()
        try:
            discover = bus_discovery(bus, metrics.target_addresses) if discover_vms else None
            return await import_original(configs_path, templates_path, admin, discover, enable=enable)
        finally:
            await bus.broker.stop()
            store.dispose()
