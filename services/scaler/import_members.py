"""The IP pool and the instances of one imported group (pure; ``import_plan`` uses them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Literal

from services.scaler.domain.model import IpPool
from services.scaler.domain.original_naming import autoscaled_at
from services.scaler.import_files import OriginalData

__all__ = ["PlannedInstance", "planned_instances", "planned_pool"]


@dataclass(frozen=True)
class PlannedInstance:
    """One VM the group's job already scrapes."""

    vm_name: str
    address: str
    role: Literal["base", "autoscaled"]
    created_at: datetime | None = None


def _address(value: Any) -> IPv4Address | None:
    try:
        return IPv4Address(str(value or "").strip())
    except ValueError:
        return None


def _covering(start: IPv4Address, end: IPv4Address) -> IPv4Network:
    """The smallest network holding both addresses."""
    for prefix in range(32, -1, -1):
        net = IPv4Network(f"{start}/{prefix}", strict=False)
        if end in net:
            return net
    return IPv4Network("0.0.0.0/0")


def planned_pool(
    name: str, network: dict[str, Any], in_use: list[PlannedInstance], reasons: list[str], notes: list[str]
) -> IpPool:
    """The group's pool from the original's ``network`` section (the range inferred from the
    autoscaled VMs when it has none); what is wrong goes to ``reasons``, what was mapped to ``notes``."""
    start, end = _address(network.get("ipPoolStart")), _address(network.get("ipPoolEnd"))
    gateway = _address(network.get("gateway"))
    if start is None or end is None or int(start) > int(end):
        autoscaled = sorted(IPv4Address(i.address) for i in in_use if i.role == "autoscaled")
        if autoscaled:
            start, end = autoscaled[0], autoscaled[-1]
            notes.append(f"IP range inferred from the autoscaled VMs' addresses: {start}-{end}")
        else:
            start = end = None
            reasons.append("no IP range (network.ipPoolStart/ipPoolEnd) and no autoscaled VM to infer one from")
    anchor = gateway or start or IPv4Address("0.0.0.0")
    netmask = str(network.get("subnet") or "").strip() or "255.255.255.0"
    try:
        net = IPv4Network(f"{anchor}/{netmask}", strict=False)
    except ValueError:
        net = IPv4Network(f"{anchor}/24", strict=False)
        notes.append(f"netmask {netmask!r} is not valid; /24 used")
    if start is not None and end is not None and not (start in net and end in net):
        reasons.append(f"IP range {start}-{end} is not inside {net}: check network.subnet and gateway")
        net = _covering(start, end)
    if start is None or end is None:
        start = end = net.network_address  # an empty pool: network addresses are never handed out
    return IpPool.model_validate(
        {
            "name": name,
            "network": str(net),
            "gateway": str(gateway) if gateway is not None and gateway in net else None,
            "ranges": [{"start": str(start), "end": str(end)}],
        }
    )


def planned_instances(
    job: str, data: OriginalData, discovered: Mapping[str, list[tuple[str | None, str]]], problems: list[str]
) -> list[PlannedInstance]:
    """The VMs the job scrapes (from the original's files and vCenter), by address; autoscaled
    when the name carries the original's timestamp, else base."""
    by_address: dict[str, str | None] = {}
    for name, address in [*data.jobs.get(job, []), *discovered.get(job, [])]:
        if by_address.get(address) is None:
            by_address[address] = name
    problems += [f"job {job}: target {t!r} is not IPv4:port; not imported" for t in data.bad_targets.get(job, [])]
    out = []
    for address, name in sorted(by_address.items(), key=lambda item: int(IPv4Address(item[0]))):
        if not name:
            problems.append(f"job {job}: {address} has no VM name (no vmName label, not in vCenter); not imported")
            continue
        at = autoscaled_at(name)
        out.append(PlannedInstance(name, address, "autoscaled" if at else "base", at))
    return out
