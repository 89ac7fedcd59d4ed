"""An in-memory load balancer with real state, for unit tests and demos without one.

It keeps pools, members and virtual servers, raises the same errors as the real drivers and
honours the same idempotency (the shared contract suite runs against it). Health is decided by
an injectable function, connection counts are set by the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from services.loadbalancer.model import make_member, validate_member
from services.loadbalancer.outbox import StoredResult
from services.loadbalancer.records import MemberRecord
from shared.errors import ConfigurationError, Conflict, NotFound, ServiceUnavailable
from shared.messages import MemberAdmin, MemberHealth, PoolInfo, PoolMember, VirtualServerInfo

__all__ = ["InMemoryPools", "InMemoryRecords", "InMemoryResults"]

HealthFunction = Callable[[str, int], MemberHealth]


@dataclass
class _Member:
    name: str
    address: str
    port: int
    admin: MemberAdmin
    connections: int = 0


class InMemoryPools:
    """``PoolMembers`` over dictionaries."""

    def __init__(
        self,
        pools: Iterable[str] = (),
        virtual_servers: Iterable[VirtualServerInfo] = (),
        health: HealthFunction | None = None,
    ) -> None:
        self._pools: dict[str, dict[str, _Member]] = {pool: {} for pool in pools}
        self._virtual_servers = list(virtual_servers)
        self._health: HealthFunction = health or (lambda address, port: MemberHealth.UP)
        self.operations = 0
        """How many changes were applied (for tests and benchmarks)."""

    # -- test controls ----------------------------------------------------------------------

    def create_pool(self, pool: str) -> None:
        """Add an empty pool (what an operator does on the real device)."""
        self._pools.setdefault(pool, {})

    def set_connections(self, pool: str, name: str, connections: int) -> None:
        """Pretend ``connections`` clients are connected to the member."""
        self._member(pool, name).connections = connections

    # -- PoolReader -------------------------------------------------------------------------

    async def pools(self) -> list[PoolInfo]:
        """Every pool, sorted by name."""
        return [PoolInfo(name=name, member_count=len(members)) for name, members in sorted(self._pools.items())]

    async def virtual_servers(self) -> list[VirtualServerInfo]:
        """The virtual servers given at construction."""
        return sorted(self._virtual_servers, key=lambda vs: vs.name)

    async def members(self, pool: str) -> list[PoolMember]:
        """The members of ``pool``; ``ConfigurationError`` when it does not exist."""
        return [self._public(member) for _, member in sorted(self._pool(pool).items())]

    # -- PoolMembers ------------------------------------------------------------------------

    async def add(self, pool: str, name: str, address: str, port: int) -> PoolMember:
        """Add the member disabled; idempotent for the same address and port."""
        validate_member(name, address, port)
        members = self._pool(pool)
        existing = members.get(name)
        if existing is not None:
            if (existing.address, existing.port) != (address, port):
                raise Conflict(
                    f"member {name} already exists as {existing.address}:{existing.port}",
                    pool=pool,
                    member=name,
                )
            return self._public(existing)
        members[name] = _Member(name, address, port, MemberAdmin.DISABLED)
        self.operations += 1
        return self._public(members[name])

    async def enable(self, pool: str, name: str) -> None:
        """Admin state enabled."""
        self._set(pool, name, MemberAdmin.ENABLED)

    async def disable(self, pool: str, name: str) -> None:
        """Admin state disabled (draining)."""
        self._set(pool, name, MemberAdmin.DISABLED)

    async def force_offline(self, pool: str, name: str) -> None:
        """Admin state offline."""
        self._set(pool, name, MemberAdmin.OFFLINE)

    async def remove(self, pool: str, name: str) -> bool:
        """Delete the member; False when it was absent."""
        members = self._pool(pool)
        if members.pop(name, None) is None:
            return False
        self.operations += 1
        return True

    # -- internals --------------------------------------------------------------------------

    def _pool(self, pool: str) -> dict[str, _Member]:
        try:
            return self._pools[pool]
        except KeyError:
            raise ConfigurationError(f"pool {pool} does not exist", pool=pool) from None

    def _member(self, pool: str, name: str) -> _Member:
        member = self._pool(pool).get(name)
        if member is None:
            raise NotFound(f"member {name} is not in pool {pool}", pool=pool, member=name)
        return member

    def _set(self, pool: str, name: str, admin: MemberAdmin) -> None:
        self._member(pool, name).admin = admin
        self.operations += 1

    def _public(self, member: _Member) -> PoolMember:
        health = self._health(member.address, member.port)
        if member.admin is MemberAdmin.OFFLINE:
            health = MemberHealth.UNKNOWN
        return make_member(member.name, member.address, member.port, member.admin, health, member.connections)


class InMemoryRecords:
    """``MemberRecords`` in a dictionary."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], MemberRecord] = {}

    async def get(self, pool: str, name: str) -> MemberRecord | None:
        """The record, or None."""
        return self._records.get((pool, name))

    async def put(self, record: MemberRecord) -> None:
        """Insert or replace."""
        self._records[(record.pool, record.name)] = record

    async def advance(self, expected: MemberRecord, record: MemberRecord) -> bool:
        """Replace it while it is still ``expected``'s command."""
        stored = self._records.get((expected.pool, expected.name))
        if stored is None or (stored.desired, stored.causation_id) != (expected.desired, expected.causation_id):
            return False
        self._records[(record.pool, record.name)] = record
        return True

    async def delete(self, pool: str, name: str) -> None:
        """Forget it."""
        self._records.pop((pool, name), None)

    async def all(self) -> list[MemberRecord]:
        """Every record, sorted."""
        return [self._records[key] for key in sorted(self._records)]


class InMemoryResults:
    """``ResultStore`` in a dictionary (insertion order is the store's order).

    ``fail_next`` makes the next calls raise ``ServiceUnavailable``, as a database outage does.
    """

    def __init__(self) -> None:
        self._results: dict[str, StoredResult] = {}
        self.fail_next = 0

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ServiceUnavailable("database unavailable (fake)")

    async def add(self, result: StoredResult) -> None:
        """Store it last; a message id already stored is left as it is."""
        self._maybe_fail()
        self._results.setdefault(result.message_id, result)

    async def remove(self, message_id: str) -> None:
        """Forget it; absent is fine."""
        self._maybe_fail()
        self._results.pop(message_id, None)

    async def pending(self) -> list[StoredResult]:
        """Every stored result, oldest first."""
        self._maybe_fail()
        return list(self._results.values())
