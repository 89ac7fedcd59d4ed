"""IP pools and their address leases: the values ``domain.ipam`` computes over."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from pydantic import Field, model_validator

from services.scaler.domain.values import NAME_PATTERN, Frozen
from shared.vocabulary import UtcDatetime

__all__ = ["IpLease", "IpPool", "IpRange", "LeaseState"]


class IpRange(Frozen):
    """An inclusive IPv4 range."""

    start: IPv4Address
    end: IPv4Address

    @model_validator(mode="after")
    def _ordered(self) -> IpRange:
        if int(self.start) > int(self.end):
            raise ValueError(f"range start {self.start} is after its end {self.end}")
        return self


class IpPool(Frozen):
    """Addresses handed to new VMs. Network, broadcast and gateway are never handed out."""

    name: str = Field(pattern=NAME_PATTERN)
    network: IPv4Network
    ranges: tuple[IpRange, ...] = Field(min_length=1)
    gateway: IPv4Address | None = None
    dns: tuple[IPv4Address, ...] = ()
    exclusions: frozenset[IPv4Address] = frozenset()
    ping_check: bool = False

    @model_validator(mode="before")
    @classmethod
    def _netmask(cls, data: Any) -> Any:
        # Accept the original's "subnet" netmask beside a gateway: 255.255.255.0 + 127.0.0.1.
        if isinstance(data, dict) and "network" not in data and "netmask" in data:
            data = dict(data)
            netmask = data.pop("netmask")
            anchor = data.get("gateway") or data["ranges"][0]["start"]
            data["network"] = IPv4Network(f"{anchor}/{netmask}", strict=False)
        return data

    @model_validator(mode="after")
    def _inside(self) -> IpPool:
        for rng in self.ranges:
            if rng.start not in self.network or rng.end not in self.network:
                raise ValueError(f"range {rng.start}-{rng.end} is outside {self.network}")
        if self.gateway is not None and self.gateway not in self.network:
            raise ValueError(f"gateway {self.gateway} is outside {self.network}")
        return self

    def network_addresses(self) -> tuple[IPv4Address, ...]:
        """The network's own address and broadcast (empty for /31 and /32)."""
        if self.network.prefixlen >= 31:
            return ()
        return (self.network.network_address, self.network.broadcast_address)


class LeaseState(StrEnum):
    """Life of an address lease."""

    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    RELEASED = "released"


class IpLease(Frozen):
    """One address of a pool, held by a VM (reserved while provisioning, confirmed in service)."""

    pool: str
    address: IPv4Address
    group: str
    vm_name: str
    activity_id: str | None = None
    state: LeaseState = LeaseState.RESERVED
    updated_at: UtcDatetime
