"""Member state summary and input validation."""

from __future__ import annotations

import pytest

from services.loadbalancer.model import member_state, split_route_domain, validate_member
from shared.errors import InvalidInput
from shared.messages import MemberAdmin, MemberHealth, MemberState

A, H, S = MemberAdmin, MemberHealth, MemberState


@pytest.mark.parametrize(
    ("admin", "health", "connections", "state"),
    [
        (A.ENABLED, H.UP, 0, S.UP),
        (A.ENABLED, H.UNCHECKED, 3, S.UP),
        (A.ENABLED, H.DOWN, 0, S.DOWN),
        (A.ENABLED, H.CHECKING, 0, S.CHECKING),
        (A.ENABLED, H.UNKNOWN, 0, S.UNKNOWN),
        (A.DISABLED, H.UP, 2, S.DRAINING),
        (A.DISABLED, H.UP, 0, S.DISABLED),
        (A.OFFLINE, H.UP, 5, S.MAINTENANCE),
    ],
    ids=[
        "enabled-up",
        "unchecked-counts-as-up",
        "enabled-down",
        "checking",
        "unknown",
        "disabled-with-connections-is-draining",
        "disabled-idle",
        "offline-wins",
    ],
)
def test_state_summary(admin: MemberAdmin, health: MemberHealth, connections: int, state: MemberState) -> None:
    assert member_state(admin, health, connections) is state


@pytest.mark.parametrize(
    ("address", "expected"),
    [("127.0.0.5", ("127.0.0.5", None)), ("127.0.0.5%2", ("127.0.0.5", 2)), ("fe80::1%12", ("fe80::1", 12))],
    ids=["plain", "route-domain", "ipv6-route-domain"],
)
def test_route_domains_split(address: str, expected: tuple[str, int | None]) -> None:
    assert split_route_domain(address) == expected


@pytest.mark.parametrize(
    ("name", "address", "port"),
    [("", "127.0.0.1", 80), ("a/b", "127.0.0.1", 80), ("vm", "127.0.0.1%x", 80), ("vm", "127.0.0.1", 70000)],
    ids=["empty-name", "slash", "bad-route-domain", "port"],
)
def test_invalid_members_are_refused(name: str, address: str, port: int) -> None:
    with pytest.raises(InvalidInput):
        validate_member(name, address, port)
