"""The scaler's repositories and unit of work over SQLAlchemy (PostgreSQL or SQLite).

``SqlStore.transaction`` runs the function in a worker thread inside one database transaction.
``for_update`` reads lock rows (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises
writers anyway). Database errors leave as ``shared.errors``: connection problems as
``ServiceUnavailable``, lock waits as ``Contention``, a second active activity of a group as
``ActivityRunning``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from services.scaler.adapters import tables as t
from services.scaler.domain.errors import ActivityRunning
from services.scaler.domain.model import GroupState, Instance, IpLease, IpPool, ScalingGroup
from services.scaler.domain.saga import Activity
from services.scaler.ports import AlertRecord, DecisionRecord, GroupRecord, OutboxEntry, UnitOfWork
from shared.errors import Contention, ServiceUnavailable
from shared.messages import Message
from shared.subjects import Subject
from shared.testing.clock import Clock, SystemClock

__all__ = ["SqlStore"]

T = TypeVar("T")
_SEQ = itertools.count()


def _upsert(session: Session, table: Any, keys: dict[str, Any], values: dict[str, Any]) -> None:
    condition = and_(*(table.c[k] == v for k, v in keys.items()))
    result = session.execute(update(table).where(condition).values(**values))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(table.insert().values(**keys, **values))


class _Groups:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, name: str, *, for_update: bool = False) -> GroupRecord | None:
        query = select(t.groups).where(t.groups.c.name == name)
        row = self._s.execute(query.with_for_update() if for_update else query).mappings().first()
        return _group(row) if row else None

    def all(self) -> list[GroupRecord]:
        rows = self._s.execute(select(t.groups).order_by(t.groups.c.name)).mappings()
        return [_group(r) for r in rows]

    def save(self, record: GroupRecord) -> None:
        _upsert(
            self._s,
            t.groups,
            {"name": record.spec.name},
            {
                "enabled": record.spec.enabled,
                "spec": record.spec.model_dump_json(),
                "state": record.state.model_dump_json(),
                "created_at": record.created_at,
                "updated_at": record.updated_at,
            },
        )

    def delete(self, name: str) -> None:
        self._s.execute(delete(t.groups).where(t.groups.c.name == name))


def _group(row: Any) -> GroupRecord:
    return GroupRecord(
        spec=ScalingGroup.model_validate_json(row["spec"]),
        state=GroupState.model_validate_json(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class _Instances:
    def __init__(self, session: Session) -> None:
        self._s = session

    def all(self, group: str | None = None) -> list[Instance]:
        query = select(t.instances.c.data).order_by(t.instances.c.created_at, t.instances.c.vm_name)
        if group is not None:
            query = query.where(t.instances.c.group_name == group)
        return [Instance.model_validate_json(d) for d in self._s.execute(query).scalars()]

    def get(self, group: str, vm_name: str) -> Instance | None:
        query = select(t.instances.c.data).where(t.instances.c.group_name == group, t.instances.c.vm_name == vm_name)
        data = self._s.execute(query).scalar()
        return Instance.model_validate_json(data) if data else None

    def save(self, instance: Instance) -> None:
        _upsert(
            self._s,
            t.instances,
            {"group_name": instance.group, "vm_name": instance.vm_name},
            {"state": instance.state, "created_at": instance.created_at, "data": instance.model_dump_json()},
        )

    def delete(self, group: str, vm_name: str) -> None:
        self._s.execute(delete(t.instances).where(t.instances.c.group_name == group, t.instances.c.vm_name == vm_name))


class _Pools:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, name: str) -> IpPool | None:
        data = self._s.execute(select(t.ip_pools.c.spec).where(t.ip_pools.c.name == name)).scalar()
        return IpPool.model_validate_json(data) if data else None

    def all(self) -> list[IpPool]:
        rows = self._s.execute(select(t.ip_pools.c.spec).order_by(t.ip_pools.c.name)).scalars()
        return [IpPool.model_validate_json(d) for d in rows]

    def save(self, pool: IpPool) -> None:
        _upsert(self._s, t.ip_pools, {"name": pool.name}, {"spec": pool.model_dump_json()})

    def delete(self, name: str) -> None:
        self._s.execute(delete(t.ip_pools).where(t.ip_pools.c.name == name))
        self._s.execute(delete(t.ip_leases).where(t.ip_leases.c.pool == name, t.ip_leases.c.state == "released"))

    def leases(self, pool: str, *, for_update: bool = False) -> list[IpLease]:
        query = select(t.ip_leases.c.data).where(t.ip_leases.c.pool == pool).order_by(t.ip_leases.c.address_int)
        rows = self._s.execute(query.with_for_update() if for_update else query).scalars()
        return [IpLease.model_validate_json(d) for d in rows]

    def save_lease(self, lease: IpLease) -> None:
        _upsert(
            self._s,
            t.ip_leases,
            {"pool": lease.pool, "address": str(lease.address)},
            {"address_int": int(lease.address), "state": lease.state, "data": lease.model_dump_json()},
        )


class _Activities:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, activity_id: str, *, for_update: bool = False) -> Activity | None:
        query = select(t.activities.c.data).where(t.activities.c.id == activity_id)
        data = self._s.execute(query.with_for_update() if for_update else query).scalar()
        return Activity.model_validate_json(data) if data else None

    def active(self, group: str | None = None) -> list[Activity]:
        query = select(t.activities.c.data).where(t.activities.c.active.is_(True)).order_by(t.activities.c.created_at)
        if group is not None:
            query = query.where(t.activities.c.group_name == group)
        return [Activity.model_validate_json(d) for d in self._s.execute(query).scalars()]

    def recent(self, group: str | None = None, status: str | None = None, limit: int = 50) -> list[Activity]:
        query = select(t.activities.c.data).order_by(t.activities.c.created_at.desc(), t.activities.c.id.desc())
        if group is not None:
            query = query.where(t.activities.c.group_name == group)
        if status is not None:
            query = query.where(t.activities.c.status == status)
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
            changed = self._s.execute(update(t.activities).where(t.activities.c.id == activity.id).values(**values))
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                with self._s.begin_nested():
                    self._s.execute(t.activities.insert().values(id=activity.id, **values))
        except IntegrityError as exc:
            raise ActivityRunning(f"group {activity.group} already runs an activity", group=activity.group) from exc


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

    def get(self, group: str, fingerprint: str) -> AlertRecord | None:
        query = select(t.alerts.c.data).where(t.alerts.c.group_name == group, t.alerts.c.fingerprint == fingerprint)
        data = self._s.execute(query).scalar()
        return AlertRecord.model_validate_json(data) if data else None

    def save(self, record: AlertRecord) -> None:
        _upsert(
            self._s,
            t.alerts,
            {"group_name": record.group, "fingerprint": record.fingerprint},
            {"resolved": record.resolved_at is not None, "data": record.model_dump_json()},
        )

    def firing(self, group: str | None = None) -> list[AlertRecord]:
        query = select(t.alerts.c.data).where(t.alerts.c.resolved.is_(False))
        if group is not None:
            query = query.where(t.alerts.c.group_name == group)
        return [AlertRecord.model_validate_json(d) for d in self._s.execute(query).scalars()]


class _Outbox:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._s = session
        self._clock = clock

    def add(self, subject: Subject[Any], message: Message) -> str:
        if not isinstance(message, subject.model):
            raise TypeError(f"{subject.name} carries {subject.model.__name__}")
        entry_id = str(message.message_id)
        values = {
            "id": entry_id,
            "seq": time.time_ns() // 1000 * 1000 + next(_SEQ) % 1000,
            "subject": subject.name,
            "payload": message.model_dump_json(),
            "created_at": self._clock.now(),
        }
        dialect = self._s.get_bind().dialect.name
        if dialect == "postgresql":
            self._s.execute(pg_insert(t.outbox).values(**values).on_conflict_do_nothing(index_elements=["id"]))
        elif dialect == "sqlite":
            self._s.execute(sqlite_insert(t.outbox).values(**values).on_conflict_do_nothing(index_elements=["id"]))
        elif self._s.execute(select(t.outbox.c.id).where(t.outbox.c.id == entry_id)).first() is None:
            self._s.execute(t.outbox.insert().values(**values))
        return entry_id

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        query = select(t.outbox).where(t.outbox.c.published_at.is_(None)).order_by(t.outbox.c.seq).limit(limit)
        return [
            OutboxEntry(
                id=r["id"],
                subject=r["subject"],
                payload=r["payload"],
                created_at=r["created_at"],
                published_at=r["published_at"],
            )
            for r in self._s.execute(query).mappings()
        ]

    def mark_published(self, ids: list[str], at: datetime) -> None:
        if ids:
            self._s.execute(update(t.outbox).where(t.outbox.c.id.in_(ids)).values(published_at=at))


class _Inbox:
    def __init__(self, session: Session) -> None:
        self._s = session

    def claim(self, message_id: str, subject: str) -> bool:
        from shared.db import claim_message

        return claim_message(self._s, t.inbox, message_id, subject)


class _SqlUnitOfWork:
    def __init__(self, session: Session, clock: Clock) -> None:
        self.groups = _Groups(session)
        self.instances = _Instances(session)
        self.ip_pools = _Pools(session)
        self.activities = _Activities(session)
        self.decisions = _Decisions(session)
        self.alerts = _Alerts(session)
        self.outbox = _Outbox(session, clock)
        self.inbox = _Inbox(session)


class SqlStore:
    """The ``Store`` port over a SQLAlchemy engine."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()

    def _run(self, fn: Callable[[UnitOfWork], T]) -> T:
        session = Session(self._engine, expire_on_commit=False)
        try:
            with session.begin():
                return fn(_SqlUnitOfWork(session, self._clock))
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
