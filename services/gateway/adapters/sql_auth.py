"""SQL adapters of the gateway's stores (SQLAlchemy Core over the gateway's own tables).

Database errors leave as ``shared.errors``: a lost connection is ``ServiceUnavailable``, a
duplicate name ``Conflict``, a value the database refuses (a NUL character, an id out of
range) ``InvalidInput``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from services.gateway.adapters import tables as t
from services.gateway.auth.model import Role
from services.gateway.auth.ports import ApiKeyRecord, AuditEntry, SessionRecord, UserRecord
from shared.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable

__all__ = ["SqlAuditLog", "SqlKeyStore", "SqlSessionStore", "SqlUserStore"]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Sql:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except IntegrityError as exc:
            raise Conflict("already exists") from exc
        except DataError as exc:  # the caller's value: out of range, or a NUL character in text
            raise InvalidInput("a value the database cannot hold (out of range, or a NUL character)") from exc
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"database error: {type(exc).__name__}") from exc


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=Role(row.role),
        disabled=bool(row.disabled),
        created_at=_aware(row.created_at) or datetime.now(UTC),
    )


class SqlUserStore(_Sql):
    """``UserStore`` over ``gateway_users``."""

    def add(self, username: str, password_hash: str, role: Role, now: datetime) -> UserRecord:
        """Store a new user; ``Conflict`` when the name is taken."""
        name = username.lower()
        with self._tx() as db:
            if db.execute(select(t.users.c.id).where(t.users.c.username == name)).first():
                raise Conflict("a user with that name exists", name=name)
            result = db.execute(
                insert(t.users).values(
                    username=name, password_hash=password_hash, role=role.value, disabled=False, created_at=now
                )
            )
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            return _user(db.execute(select(t.users).where(t.users.c.id == user_id)).one())

    def get(self, user_id: int) -> UserRecord | None:
        """The user with that id, or None."""
        with self._tx() as db:
            row = db.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return _user(row) if row else None

    def by_name(self, username: str) -> UserRecord | None:
        """The user with that name, or None."""
        with self._tx() as db:
            row = db.execute(select(t.users).where(t.users.c.username == username.lower())).first()
        return _user(row) if row else None

    def list(self) -> list[UserRecord]:
        """Every user, by id."""
        with self._tx() as db:
            return [_user(row) for row in db.execute(select(t.users).order_by(t.users.c.id))]

    def update(
        self, user_id: int, *, role: Role | None = None, disabled: bool | None = None, password_hash: str | None = None
    ) -> UserRecord:
        """Change the given fields."""
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role.value
        if disabled is not None:
            values["disabled"] = disabled
        if password_hash is not None:
            values["password_hash"] = password_hash
        with self._tx() as db:
            if values:
                db.execute(update(t.users).where(t.users.c.id == user_id).values(**values))
            row = db.execute(select(t.users).where(t.users.c.id == user_id)).first()
            if row is None:
                raise NotFound("no such user", name=str(user_id))
            return _user(row)

    def delete(self, user_id: int) -> None:
        """Remove the user with its sessions and keys."""
        with self._tx() as db:
            db.execute(delete(t.sessions).where(t.sessions.c.user_id == user_id))
            db.execute(delete(t.api_keys).where(t.api_keys.c.user_id == user_id))
            if db.execute(delete(t.users).where(t.users.c.id == user_id)).rowcount == 0:
                raise NotFound("no such user", name=str(user_id))

    def count(self) -> int:
        """How many users exist."""
        with self._tx() as db:
            return int(db.execute(select(func.count()).select_from(t.users)).scalar_one())


def _key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.key_prefix,
        key_hash=row.key_hash,
        role=Role(row.role),
        user_id=row.user_id,
        created_at=_aware(row.created_at) or datetime.now(UTC),
        last_used_at=_aware(row.last_used_at),
        revoked=bool(row.revoked),
    )


class SqlKeyStore(_Sql):
    """``KeyStore`` over ``gateway_api_keys``."""

    def add(
        self, name: str, prefix: str, key_hash: str, role: Role, user_id: int | None, now: datetime
    ) -> ApiKeyRecord:
        """Store a new key."""
        with self._tx() as db:
            if db.execute(select(t.api_keys.c.id).where(t.api_keys.c.name == name)).first():
                raise Conflict("an API key with that name exists", name=name)
            result = db.execute(
                insert(t.api_keys).values(
                    name=name,
                    key_prefix=prefix,
                    key_hash=key_hash,
                    role=role.value,
                    user_id=user_id,
                    created_at=now,
                    revoked=False,
                )
            )
            key_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            return _key(db.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).one())

    def by_prefix(self, prefix: str) -> list[ApiKeyRecord]:
        """Keys with that lookup prefix."""
        with self._tx() as db:
            return [_key(row) for row in db.execute(select(t.api_keys).where(t.api_keys.c.key_prefix == prefix))]

    def list(self) -> list[ApiKeyRecord]:
        """Every key, by id."""
        with self._tx() as db:
            return [_key(row) for row in db.execute(select(t.api_keys).order_by(t.api_keys.c.id))]

    def revoke(self, key_id: int) -> ApiKeyRecord:
        """Mark revoked (idempotent)."""
        with self._tx() as db:
            db.execute(update(t.api_keys).where(t.api_keys.c.id == key_id).values(revoked=True))
            row = db.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
            if row is None:
                raise NotFound("no such API key", name=str(key_id))
            return _key(row)

    def touch(self, key_id: int, now: datetime) -> None:
        """Record a use."""
        with self._tx() as db:
            db.execute(update(t.api_keys).where(t.api_keys.c.id == key_id).values(last_used_at=now))


class SqlSessionStore(_Sql):
    """``SessionStore`` over ``gateway_sessions``."""

    def add(self, record: SessionRecord) -> None:
        """Store a session."""
        with self._tx() as db:
            db.execute(
                insert(t.sessions).values(
                    token_hash=record.token_hash,
                    user_id=record.user_id,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )

    def get(self, token_hash: str) -> SessionRecord | None:
        """The session, or None."""
        with self._tx() as db:
            row = db.execute(select(t.sessions).where(t.sessions.c.token_hash == token_hash)).first()
        if row is None:
            return None
        return SessionRecord(
            token_hash=row.token_hash,
            user_id=row.user_id,
            created_at=_aware(row.created_at) or datetime.now(UTC),
            expires_at=_aware(row.expires_at) or datetime.now(UTC),
        )

    def delete(self, token_hash: str) -> None:
        """Forget the session."""
        with self._tx() as db:
            db.execute(delete(t.sessions).where(t.sessions.c.token_hash == token_hash))

    def purge_expired(self, now: datetime) -> int:
        """Delete expired sessions."""
        with self._tx() as db:
            return int(db.execute(delete(t.sessions).where(t.sessions.c.expires_at < now)).rowcount)

    def end_for_user(self, user_id: int, keep: str | None = None) -> int:
        """Delete the user's sessions but ``keep``."""
        query = delete(t.sessions).where(t.sessions.c.user_id == user_id)
        if keep is not None:
            query = query.where(t.sessions.c.token_hash != keep)
        with self._tx() as db:
            return int(db.execute(query).rowcount)


class SqlAuditLog(_Sql):
    """``AuditLog`` over ``gateway_audit``."""

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Store the entry."""
        with self._tx() as db:
            result = db.execute(
                insert(t.audit).values(
                    at=entry.at,
                    actor=entry.actor[:64],
                    action=entry.action[:64],
                    target=entry.target[:255],
                    source=entry.source[:64],
                    outcome=entry.outcome[:16],
                    detail=entry.detail,
                )
            )
            entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return AuditEntry(**{**entry.__dict__, "id": entry_id})

    def recent(self, limit: int = 100, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        query = select(t.audit).order_by(t.audit.c.id.desc()).limit(limit)
        if actor:
            query = query.where(t.audit.c.actor == actor)
        if action:
            query = query.where(t.audit.c.action.startswith(action))
        with self._tx() as db:
            return [
                AuditEntry(
                    id=row.id,
                    at=_aware(row.at) or datetime.now(UTC),
                    actor=row.actor,
                    action=row.action,
                    target=row.target,
                    source=row.source,
                    outcome=row.outcome,
                    detail=dict(row.detail or {}),
                )
                for row in db.execute(query)
            ]
