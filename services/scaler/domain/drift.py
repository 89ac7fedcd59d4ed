"""Pure comparison of the group's instance table with the load balancer's pool members.

Neither side is trusted: an in-service instance the pool lacks is *missing*, a member no
instance accounts for is *unexpected*; both are reported, nothing is repaired here. A member
matches an instance by name (vmscale adds members under the VM name) or by address (members
imported from the original system may carry other names). Instances in flight (pending,
provisioning, draining, terminating) may or may not be members yet and match either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.scaler.domain.model import Instance, InstanceState

__all__ = ["PoolDrift", "pool_drift"]


@dataclass(frozen=True)
class PoolDrift:
    """The differences found (sorted names); empty tuples mean the two sides agree."""

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        """True when the sides differ."""
        return bool(self.missing or self.unexpected)


def pool_drift(instances: Iterable[Instance], members: Iterable[tuple[str, str]]) -> PoolDrift:
    """Compare ``instances`` with pool ``members`` given as ``(name, address)`` pairs."""
    members = list(members)
    names = {name for name, _ in members}
    addresses = {address for _, address in members}
    known_names: set[str] = set()
    known_addresses: set[str] = set()
    missing: list[str] = []
    for instance in instances:
        if instance.state in (InstanceState.TERMINATED, InstanceState.FAILED):
            continue
        address = str(instance.address) if instance.address is not None else ""
        known_names.add(instance.vm_name)
        if address:
            known_addresses.add(address)
        present = instance.vm_name in names or (address != "" and address in addresses)
        if instance.state is InstanceState.IN_SERVICE and not present:
            missing.append(instance.vm_name)
    unexpected = [name for name, address in members if name not in known_names and address not in known_addresses]
    return PoolDrift(missing=tuple(sorted(missing)), unexpected=tuple(sorted(unexpected)))
