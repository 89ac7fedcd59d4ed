"""Inventory, monitoring and the load balancer as the scaler meets them: on the bus.

``FakeWorld`` composes the three back-end stand-ins (``testkit/<service>/standin.py``) with one
script list and one record of handled commands, so a test scripts and inspects the whole world.
``FakeWorld.handle`` is the pure part; ``attach_to_bus`` serves it over real NATS for integration
tests and benchmarks. The same stand-ins answer the gateway's queries (``FakeBackends``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsRouter

from shared.bus import Bus
from shared.messages import MemberState, Message, PowerState
from shared.subjects import Subject
from testkit.inventory.standin import FakeVm, InventoryStandIn
from testkit.loadbalancer.standin import LoadbalancerStandIn
from testkit.monitoring.standin import MonitoringStandIn
from testkit.standin import Reply, Script, StandIn

__all__ = ["FakeVm", "FakeWorld", "Script", "attach_to_bus"]


class FakeWorld:
    """Inventory, monitoring and load balancer, in memory, sharing one script list."""

    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.handled: list[tuple[str, Message]] = []
        self.inventory = InventoryStandIn(scripts=self.scripts, handled=self.handled)
        self.monitoring = MonitoringStandIn(scripts=self.scripts, handled=self.handled)
        self.loadbalancer = LoadbalancerStandIn(scripts=self.scripts, handled=self.handled)

    @property
    def standins(self) -> tuple[StandIn, ...]:
        """The three services."""
        return (self.inventory, self.monitoring, self.loadbalancer)

    # -- each service's state, by its old names -------------------------------------------------

    @property
    def vms(self) -> dict[str, FakeVm]:
        """The inventory's VMs by name."""
        return self.inventory.vms

    @property
    def clones(self) -> int:
        """How many VMs the inventory cloned."""
        return self.inventory.clones

    @property
    def targets(self) -> dict[tuple[str, str], str]:
        """Monitoring's targets: (job, VM name) → ``address:port``."""
        return self.monitoring.targets

    @property
    def silenced(self) -> dict[str, bool]:
        """Monitoring's scale-in silences by group."""
        return self.monitoring.silenced

    @property
    def alert_groups(self) -> set[str]:
        """The groups monitoring holds alert rules for."""
        return self.monitoring.alert_groups

    @property
    def members(self) -> dict[tuple[str, str], tuple[str, int, MemberState]]:
        """The load balancer's members: (pool, name) → (address, port, state)."""
        return self.loadbalancer.members

    # -- scripting and checks -------------------------------------------------------------------

    def fail(self, operation: str, **options: Any) -> None:
        """Script failures of ``operation`` (see ``Script``)."""
        self.scripts.append(Script(operation=operation, **options))

    def app_healthy(self, url: str) -> bool:
        """True when a powered-on VM owns the URL's address (what a health probe would see)."""
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return any(vm.ip == host and vm.power is PowerState.ON for vm in self.vms.values())

    def leftovers(self, group: str | None = None) -> dict[str, list[str]]:
        """What exists per kind (VMs, targets, members), for "nothing left behind" checks."""
        return {
            "vms": sorted(v.name for v in self.vms.values() if group is None or v.group == group),
            "targets": sorted(name for (_, name) in self.targets),
            "members": sorted(name for (_, name) in self.members),
        }

    def handle(self, subject: Subject[Any], message: Message) -> list[Reply]:
        """Apply a command and return the events the owning service would publish."""
        for standin in self.standins:
            if subject.name in standin.operations:
                return standin.handle(subject, message)
        return []


def attach_to_bus(world: FakeWorld, bus: Bus, on_command: Callable[[str], Awaitable[None]] | None = None) -> NatsRouter:
    """A router that serves ``world`` on the real bus: consume commands, publish its events."""
    router = NatsRouter()
    for standin in world.standins:
        standin.add_commands(router, bus, on_command)
    return router
