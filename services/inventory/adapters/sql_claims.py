"""``OperationClaims`` in the service's database (SQLite or PostgreSQL): the shared lease adapter
(``shared.singleton_sql.SqlLeases``) over ``inventory_operation_claims``, one claim per operation.

Each call is one short transaction of conditional statements, atomic on both databases; expiry
uses this host's clock, so replicas' clocks are assumed within a fraction of the TTL.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from services.inventory.adapters.tables import claims
from shared.clock import Clock
from shared.singleton_sql import SqlLeases

__all__ = ["SqlOperationClaims"]


class SqlOperationClaims(SqlLeases):
    """Claims in ``inventory_operation_claims`` (keyed by the operation's key)."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        super().__init__(engine, claims, clock, key="key")

    def claim(self, key: str, owner: str, ttl_s: float) -> int | None:
        """See ``OperationClaims.claim``: ``Leases.acquire`` under the operation's key."""
        return self.acquire(key, owner, ttl_s)
