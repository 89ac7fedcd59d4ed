"""Vendor-neutral values of the loadbalancer service: member identity checks and state summary.

Drivers report two independent facts per member: ``admin`` (what we set: enabled, disabled,
offline) and ``health`` (what the load balancer's monitor says). ``member_state`` folds them,
with the connection count, into the one ``MemberState`` the rest of vmscale reads.
"""

from __future__ import annotations

import ipaddress
import re

from shared.errors import InvalidInput
from shared.messages import MemberAdmin, MemberHealth, MemberState, PoolMember

__all__ = ["MEMBER_NAME", "make_member", "member_state", "split_route_domain", "validate_member"]

MEMBER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
"""Member names both products accept: HAProxy server names and F5 node names."""


def split_route_domain(address: str) -> tuple[str, int | None]:
    """Split ``127.0.0.5%2`` into the IP and the F5 route domain id (``None`` when absent)."""
    if "%" not in address:
        return address, None
    ip, _, domain = address.partition("%")
    if not domain.isdigit():
        raise InvalidInput(f"route domain must be a number: {address!r}", address=address)
    return ip, int(domain)


def validate_member(name: str, address: str, port: int) -> None:
    """Raise ``InvalidInput`` unless ``name``, ``address`` (IP, optional ``%rd``) and ``port`` are usable."""
    if not MEMBER_NAME.match(name):
        raise InvalidInput("member name must be 1-63 letters, digits, '.', '_' or '-'", member=name)
    ip, _ = split_route_domain(address)
    try:
        ipaddress.ip_address(ip)
    except ValueError as exc:
        raise InvalidInput(f"not an IP address: {address!r}", member=name) from exc
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port out of range: {port}", member=name)


def member_state(admin: MemberAdmin, health: MemberHealth, connections: int) -> MemberState:
    """The summary state: offline wins, then disabled (draining while connections remain), then health."""
    if admin is MemberAdmin.OFFLINE:
        return MemberState.MAINTENANCE
    if admin is MemberAdmin.DISABLED:
        return MemberState.DRAINING if connections > 0 else MemberState.DISABLED
    return {
        MemberHealth.UP: MemberState.UP,
        MemberHealth.UNCHECKED: MemberState.UP,
        MemberHealth.DOWN: MemberState.DOWN,
        MemberHealth.CHECKING: MemberState.CHECKING,
        MemberHealth.UNKNOWN: MemberState.UNKNOWN,
    }[health]


def make_member(
    name: str,
    address: str,
    port: int,
    admin: MemberAdmin,
    health: MemberHealth,
    connections: int = 0,
) -> PoolMember:
    """A ``PoolMember`` with its summary state computed."""
    return PoolMember(
        name=name,
        address=address,
        port=port,
        state=member_state(admin, health, connections),
        connections=connections,
        admin=admin,
        health=health,
    )
