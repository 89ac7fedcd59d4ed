"""The scaler's repositories and unit of work over SQLAlchemy (PostgreSQL or SQLite).

``SqlStore.transaction`` runs the function in a worker thread inside one database transaction.
``for_update`` reads lock rows (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises
writers anyway). A unit of work keeps what it read and saved (an identity map): reading a row it
already holds costs no statement, and rows saved several times are written once, by one upsert
per table, when the transaction flushes — before it commits, or before a query that must see
them (``sql_write.RowBuffer``). Activities and decisions are written at once (the one-active
index must fail where the activity is saved). Database errors leave as ``shared.errors``: connection problems as
``ServiceUnavailable``, lock waits as ``Contention``, a second active activity of a group as
``ActivityRunning``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from services.scaler.adapters import tables as t
from services.scaler.adapters.sql_messages import SqlInbox, SqlOutbox
from services.scaler.adapters.sql_write import RowBuffer, upsert_rows
from services.scaler.domain.errors import ActivityRunning
from services.scaler.domain.model import GroupState, Instance, IpLease, IpPool, ScalingGroup
from services.scaler.domain.saga import Activity
from services.scaler.ports import AlertRecord, At, DecisionRecord, GroupRecord, UnitOfWork
from shared.clock import Clock, SystemClock
from shared.errors import Contention, ServiceUnavailable

__all__ = ["SqlStore"]

T = TypeVar("T")
_SEQ = itertools.count()


def _group_row(record: GroupRecord) -> dict[str, Any]:
    return {
        "name": record.spec.name,
        "enabled": record.spec.enabled,
        "spec": record.spec.model_dump_json(),
        "state": record.state.model_dump_json(),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


class _Groups:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = RowBuffer(session, t.groups, ("name",))
        self._seen: dict[str, GroupRecord | None] = {}
        self._locked: set[str] = set()

    def get(self, name: str, *, for_update: bool = False) -> GroupRecord | None:
        if for_update and name not in self._locked:
            self._rows.flush()  # our pending write takes the row lock and is what we read back
            row = self._s.execute(select(t.groups).where(t.groups.c.name == name).with_for_update())
            found = row.mappings().first()
            self._locked.add(name)
            self._seen[name] = _group(found) if found else None
        elif name not in self._seen:
            found = self._s.execute(select(t.groups).where(t.groups.c.name == name)).mappings().first()
            self._seen[name] = _group(found) if found else None
        return self._seen[name]

    def all(self) -> list[GroupRecord]:
        self._rows.flush()
        rows = self._s.execute(select(t.groups).order_by(t.groups.c.name)).mappings()
        return [_group(r) for r in rows]

    def save(self, record: GroupRecord) -> None:
        self._seen[record.spec.name] = record
        self._rows.put(_group_row(record))

    def delete(self, name: str) -> None:
        self._rows.discard(name)
        self._seen[name] = None
        self._s.execute(delete(t.groups).where(t.groups.c.name == name))

    def flush(self) -> None:
        self._rows.flush()


def _group(row: Any) -> GroupRecord:
    return _parsed_group(row["spec"], row["state"], row["created_at"], row["updated_at"])


@functools.lru_cache(maxsize=4096)
def _parsed_group(spec: str, state: str, created_at: datetime, updated_at: datetime) -> GroupRecord:
    """Parsing every group's JSON on every tick costs more than the query: rows that did not
    change map to the same (frozen) record."""
    return GroupRecord(
        spec=ScalingGroup.model_validate_json(spec),
        state=GroupState.model_validate_json(state),
        created_at=created_at,
        updated_at=updated_at,
    )


def _oldest_first(found: list[Instance]) -> list[Instance]:
    return sorted(found, key=lambda i: (i.created_at, i.vm_name))


class _Instances:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = RowBuffer(session, t.instances, ("group_name", "vm_name"))
        self._seen: dict[tuple[str, str], Instance | None] = {}
        self._loaded: set[str] = set()

    def all(self, group: str | None = None) -> list[Instance]:
        if group is None:
            self._rows.flush()
            rows = self._s.execute(select(t.instances.c.data)).scalars()
            return _oldest_first([Instance.model_validate_json(d) for d in rows])
        if group not in self._loaded:
            query = select(t.instances.c.data).where(t.instances.c.group_name == group)
            for data in self._s.execute(query).scalars():
                instance = Instance.model_validate_json(data)
                self._seen.setdefault((group, instance.vm_name), instance)  # our own save is newer
            self._loaded.add(group)
        return _oldest_first([i for (g, _), i in self._seen.items() if g == group and i is not None])

    def get(self, group: str, vm_name: str) -> Instance | None:
        key = (group, vm_name)
        if key not in self._seen:
            if group in self._loaded:
                return None
            query = select(t.instances.c.data).where(
                t.instances.c.group_name == group, t.instances.c.vm_name == vm_name
            )
            data = self._s.execute(query).scalar()
            self._seen[key] = Instance.model_validate_json(data) if data else None
        return self._seen[key]

    def save(self, instance: Instance) -> None:
        self._seen[(instance.group, instance.vm_name)] = instance
        self._rows.put(
            {
                "group_name": instance.group,
                "vm_name": instance.vm_name,
                "state": instance.state,
                "created_at": instance.created_at,
                "data": instance.model_dump_json(),
            }
        )

    def delete(self, group: str, vm_name: str) -> None:
        self._rows.discard(group, vm_name)
        self._seen[(group, vm_name)] = None
        self._s.execute(delete(t.instances).where(t.instances.c.group_name == group, t.instances.c.vm_name == vm_name))

    def flush(self) -> None:
        self._rows.flush()


class _Pools:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._leases = RowBuffer(session, t.ip_leases, ("pool", "address"))
        self._seen: dict[str, IpPool | None] = {}
        self._locked: set[str] = set()

    def get(self, name: str) -> IpPool | None:
        if name not in self._seen:
            data = self._s.execute(select(t.ip_pools.c.spec).where(t.ip_pools.c.name == name)).scalar()
            self._seen[name] = IpPool.model_validate_json(data) if data else None
        return self._seen[name]

    def all(self) -> list[IpPool]:
        rows = self._s.execute(select(t.ip_pools.c.spec).order_by(t.ip_pools.c.name)).scalars()
        return [IpPool.model_validate_json(d) for d in rows]

    def save(self, pool: IpPool) -> None:
        self._seen[pool.name] = pool
        upsert_rows(self._s, t.ip_pools, ("name",), [{"name": pool.name, "spec": pool.model_dump_json()}])

    def delete(self, name: str) -> None:
        self._leases.flush()
        self._seen[name] = None
        self._s.execute(delete(t.ip_pools).where(t.ip_pools.c.name == name))
        self._s.execute(delete(t.ip_leases).where(t.ip_leases.c.pool == name, t.ip_leases.c.state == "released"))

    def leases(self, pool: str, *, for_update: bool = False) -> list[IpLease]:
        self._leases.flush()
        if for_update and pool not in self._locked:
            # Lock the pool first: a lease row that does not exist yet cannot be locked, so two
            # groups sharing the pool could otherwise both take the same next free address.
            self._s.execute(select(t.ip_pools.c.name).where(t.ip_pools.c.name == pool).with_for_update())
            self._locked.add(pool)
        query = select(t.ip_leases.c.data).where(t.ip_leases.c.pool == pool).order_by(t.ip_leases.c.address_int)
        rows = self._s.execute(query.with_for_update() if for_update else query).scalars()
        return [IpLease.model_validate_json(d) for d in rows]

    def save_lease(self, lease: IpLease) -> None:
        self._leases.put(
            {
                "pool": lease.pool,
                "address": str(lease.address),
                "address_int": int(lease.address),
                "state": lease.state,
                "data": lease.model_dump_json(),
            }
        )

    def flush(self) -> None:
        self._leases.flush()


class _Activities:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._known: set[str] = set()

    def _load(self, data: str) -> Activity:
        activity = Activity.model_validate_json(data)
        self._known.add(activity.id)
        return activity

    def get(self, activity_id: str, *, for_update: bool = False) -> Activity | None:
        query = select(t.activities.c.data).where(t.activities.c.id == activity_id)
        data = self._s.execute(query.with_for_update() if for_update else query).scalar()
        return self._load(data) if data else None

    def active(self, group: str | None = None) -> list[Activity]:
        query = select(t.activities.c.data).where(t.activities.c.active.is_(True)).order_by(t.activities.c.created_at)
        if group is not None:
            query = query.where(t.activities.c.group_name == group)
        return [self._load(d) for d in self._s.execute(query).scalars()]

    def recent(
        self, group: str | None = None, status: str | None = None, limit: int = 50, since: At = None, until: At = None
    ) -> list[Activity]:
        query = select(t.activities.c.data).order_by(t.activities.c.created_at.desc(), t.activities.c.id.desc())
        if group is not None:
            query = query.where(t.activities.c.group_name == group)
        if status is not None:
            query = query.where(t.activities.c.status == status)
        if since is not None:
            query = query.where(t.activities.c.created_at >= since)
        if until is not None:
            query = query.where(t.activities.c.created_at <= until)
        return [Activity.model_validate_json(d) for d in self._s.execute(query.limit(limit)).scalars()]

    def save(self, activity: Activity) -> None:
        values = {
            "group_name": activity.group,
            "status": activity.status,
            "active": not activity.status.terminal,
            "created_at": activity.created_at,
            "updated_at": activity.updated_at,
            "data": activity.model_dump_json(),
        }
        try:
            if activity.id in self._known:
                self._s.execute(update(t.activities).where(t.activities.c.id == activity.id).values(**values))
            else:
                # No savepoint: a second active activity fails the whole transaction, as it must.
                upsert_rows(self._s, t.activities, ("id",), [{"id": activity.id, **values}])
        except IntegrityError as exc:
            raise ActivityRunning(f"group {activity.group} already runs an activity", group=activity.group) from exc
        self._known.add(activity.id)


class _Decisions:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, record: DecisionRecord) -> None:
        self._s.execute(
            t.decisions.insert().values(
                id=record.id,
                group_name=record.group,
                at=record.at,
                allowed=record.allowed,
                data=record.model_dump_json(),
            )
        )

    def find(
        self,
        group: str | None = None,
        allowed: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[DecisionRecord]:
        query = select(t.decisions.c.data).order_by(t.decisions.c.at.desc())
        if group is not None:
            query = query.where(t.decisions.c.group_name == group)
        if allowed is not None:
            query = query.where(t.decisions.c.allowed.is_(allowed))
        if since is not None:
            query = query.where(t.decisions.c.at >= since)
        if until is not None:
            query = query.where(t.decisions.c.at <= until)
        return [DecisionRecord.model_validate_json(d) for d in self._s.execute(query.limit(limit)).scalars()]


class _Alerts:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = RowBuffer(session, t.alerts, ("group_name", "fingerprint"))
        self._seen: dict[tuple[str, str], AlertRecord | None] = {}

    def get(self, group: str, fingerprint: str) -> AlertRecord | None:
        key = (group, fingerprint)
        if key not in self._seen:
            query = select(t.alerts.c.data).where(t.alerts.c.group_name == group, t.alerts.c.fingerprint == fingerprint)
            data = self._s.execute(query).scalar()
            self._seen[key] = AlertRecord.model_validate_json(data) if data else None
        return self._seen[key]

    def save(self, record: AlertRecord) -> None:
        self._seen[(record.group, record.fingerprint)] = record
        self._rows.put(
            {
                "group_name": record.group,
                "fingerprint": record.fingerprint,
                "resolved": record.resolved_at is not None,
                "data": record.model_dump_json(),
            }
        )

    def firing(self, group: str | None = None) -> list[AlertRecord]:
        self._rows.flush()
        query = select(t.alerts.c.data).where(t.alerts.c.resolved.is_(False))
        if group is not None:
            query = query.where(t.alerts.c.group_name == group)
        return [AlertRecord.model_validate_json(d) for d in self._s.execute(query).scalars()]

    def flush(self) -> None:
        self._rows.flush()


class _SqlUnitOfWork:
    def __init__(self, session: Session, clock: Clock) -> None:
        self.groups = _Groups(session)
        self.instances = _Instances(session)
        self.ip_pools = _Pools(session)
        self.activities = _Activities(session)
        self.decisions = _Decisions(session)
        self.alerts = _Alerts(session)
        self.outbox = SqlOutbox(session, clock)
        self.inbox = SqlInbox(session)

    def flush(self) -> None:
        """Write every buffered row (before commit)."""
        self.groups.flush()
        self.instances.flush()
        self.ip_pools.flush()
        self.alerts.flush()
        self.outbox.flush()


class SqlStore:
    """The ``Store`` port over a SQLAlchemy engine."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()

    def _run(self, fn: Callable[[UnitOfWork], T]) -> T:
        session = Session(self._engine, expire_on_commit=False)
        try:
            with session.begin():
                uow = _SqlUnitOfWork(session, self._clock)
                result = fn(uow)
                uow.flush()
                return result
        except OperationalError as exc:
            if "lock" in str(exc.orig).lower() or "deadlock" in str(exc.orig).lower():
                raise Contention("database lock contention") from exc
            raise ServiceUnavailable("database unavailable") from exc
        except IntegrityError as exc:
            raise Contention(f"concurrent write: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise ServiceUnavailable("database connection lost") from exc
            raise
        finally:
            session.close()

    async def transaction(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run ``fn`` in one transaction in a worker thread (see the module docstring)."""
        return await asyncio.to_thread(self._run, fn)

    def dispose(self) -> None:
        """Close the engine's connections."""
        self._engine.dispose()
