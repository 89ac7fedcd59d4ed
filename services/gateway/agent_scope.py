"""Which addresses an agent batch may reach: only ones vmscale manages.

vmscale connects over SSH with its own private key (and installs binaries, runs systemctl,
deletes files), so an operator must not be able to point it at an arbitrary host. An address is
managed when it is

* a guest IP that inventory reports for a VM (any NIC address), or
* inside one of the scaler's IP pools (the addresses vmscale hands to the VMs it clones), or
* inside a CIDR of the gateway's ``agent_allowed_cidrs`` setting (hosts an admin vouches for).

The sources are asked in that order of cost, cheapest first, and only for what is still
unexplained. A source that does not answer fails the request (``ServiceUnavailable``): refusing
is the safe side.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from services.gateway.clients import InventoryClient, ScalerClient
from services.gateway.errors import Forbidden
from shared.messages import AgentHost

__all__ = ["check_agent_hosts", "unmanaged"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _in_cidrs(address: IpAddress, cidrs: Iterable[str]) -> bool:
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _in_ranges(address: IpAddress, ranges: Iterable[str]) -> bool:
    for text in ranges:
        start, _, end = text.partition("-")
        first, last = _ip(start), _ip(end or start)
        if first is not None and last is not None and first.version == address.version:
            if int(first) <= int(address) <= int(last):
                return True
    return False


async def _guest_ips(inventory: InventoryClient) -> set[IpAddress]:
    found: set[IpAddress] = set()
    offset: int | None = 0
    while offset is not None:
        reply = await inventory.vms(offset=offset)
        for vm in reply.vms:
            for text in (vm.ip or "", *(a for nic in vm.nics for a in (*nic.ipv4, *nic.ipv6))):
                if (address := _ip(text)) is not None:
                    found.add(address)
        offset = reply.next_offset
    return found


async def unmanaged(
    scaler: ScalerClient, inventory: InventoryClient, addresses: Sequence[str], allowed_cidrs: Sequence[str]
) -> list[str]:
    """The addresses of ``addresses`` vmscale does not manage (see the module docstring), sorted;
    a name that is not an IP address is never managed. Raises ``ServiceUnavailable`` /
    ``OperationTimeout`` when the scaler or inventory must be asked and does not answer."""
    parsed = {text: _ip(text) for text in addresses}
    pending = {text: ip for text, ip in parsed.items() if ip is not None and not _in_cidrs(ip, allowed_cidrs)}
    if pending:
        pools = await scaler.ip_pools()
        ranges = [r for pool in pools.pools for r in pool.ranges]
        pending = {text: ip for text, ip in pending.items() if not _in_ranges(ip, ranges)}
    if pending:
        guests = await _guest_ips(inventory)
        pending = {text: ip for text, ip in pending.items() if ip not in guests}
    refused = set(pending) | {text for text, ip in parsed.items() if ip is None}
    return sorted(refused)


async def check_agent_hosts(
    scaler: ScalerClient, inventory: InventoryClient, hosts: Sequence[AgentHost], allowed_cidrs: Sequence[str]
) -> None:
    """``Forbidden`` (403, with the addresses and why) unless every host is managed."""
    refused = await unmanaged(scaler, inventory, [host.address for host in hosts], allowed_cidrs)
    if refused:
        shown = ", ".join(refused[:10]) + (f" and {len(refused) - 10} more" if len(refused) > 10 else "")
        raise Forbidden(
            f"vmscale does not manage {shown}: an agent goes only to a VM's guest IP that inventory "
            "reports, an address in an IP pool, or a CIDR of AGENT_ALLOWED_CIDRS",
            field="hosts",
        )
