"""In-memory fakes of the gateway's stores: real state, the same errors as the SQL adapters."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime

from services.gateway.auth.model import Role
from services.gateway.auth.ports import ApiKeyRecord, AuditEntry, SessionRecord, UserRecord
from shared.errors import Conflict, NotFound

__all__ = ["MemoryAuditLog", "MemoryKeyStore", "MemorySessionStore", "MemoryStores", "MemoryUserStore"]


class MemoryStores:
    """One shared state for the fakes, so deleting a user cascades like the database does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[int, UserRecord] = {}
        self.keys: dict[int, ApiKeyRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.audit: list[AuditEntry] = []
        self.next_id = 1

    def new_id(self) -> int:
        """A fresh id (callers hold the lock)."""
        value = self.next_id
        self.next_id += 1
        return value


class MemoryUserStore:
    """``UserStore`` in memory."""

    def __init__(self, state: MemoryStores) -> None:
        self._s = state

    def add(self, username: str, password_hash: str, role: Role, now: datetime) -> UserRecord:
        """Store a new user."""
        name = username.lower()
        with self._s.lock:
            if any(user.username == name for user in self._s.users.values()):
                raise Conflict("a user with that name exists", name=name)
            record = UserRecord(self._s.new_id(), name, password_hash, role, False, now)
            self._s.users[record.id] = record
            return record

    def get(self, user_id: int) -> UserRecord | None:
        """The user, or None."""
        return self._s.users.get(user_id)

    def by_name(self, username: str) -> UserRecord | None:
        """The user by name, or None."""
        name = username.lower()
        return next((user for user in self._s.users.values() if user.username == name), None)

    def list(self) -> list[UserRecord]:
        """Every user, by id."""
        return sorted(self._s.users.values(), key=lambda user: user.id)

    def update(
        self, user_id: int, *, role: Role | None = None, disabled: bool | None = None, password_hash: str | None = None
    ) -> UserRecord:
        """Change the given fields."""
        with self._s.lock:
            user = self._s.users.get(user_id)
            if user is None:
                raise NotFound("no such user", name=str(user_id))
            user = dataclasses.replace(
                user,
                role=user.role if role is None else role,
                disabled=user.disabled if disabled is None else disabled,
                password_hash=user.password_hash if password_hash is None else password_hash,
            )
            self._s.users[user_id] = user
            return user

    def delete(self, user_id: int) -> None:
        """Remove the user with its sessions and keys."""
        with self._s.lock:
            if self._s.users.pop(user_id, None) is None:
                raise NotFound("no such user", name=str(user_id))
            self._s.keys = {k: v for k, v in self._s.keys.items() if v.user_id != user_id}
            self._s.sessions = {k: v for k, v in self._s.sessions.items() if v.user_id != user_id}

    def count(self) -> int:
        """How many users exist."""
        return len(self._s.users)


class MemoryKeyStore:
    """``KeyStore`` in memory."""

    def __init__(self, state: MemoryStores) -> None:
        self._s = state

    def add(
        self, name: str, prefix: str, key_hash: str, role: Role, user_id: int | None, now: datetime
    ) -> ApiKeyRecord:
        """Store a new key."""
        with self._s.lock:
            if any(key.name == name for key in self._s.keys.values()):
                raise Conflict("an API key with that name exists", name=name)
            record = ApiKeyRecord(self._s.new_id(), name, prefix, key_hash, role, user_id, now, None, False)
            self._s.keys[record.id] = record
            return record

    def by_prefix(self, prefix: str) -> list[ApiKeyRecord]:
        """Keys with that prefix."""
        return [key for key in self._s.keys.values() if key.prefix == prefix]

    def list(self) -> list[ApiKeyRecord]:
        """Every key, by id."""
        return sorted(self._s.keys.values(), key=lambda key: key.id)

    def revoke(self, key_id: int) -> ApiKeyRecord:
        """Mark revoked."""
        with self._s.lock:
            key = self._s.keys.get(key_id)
            if key is None:
                raise NotFound("no such API key", name=str(key_id))
            key = dataclasses.replace(key, revoked=True)
            self._s.keys[key_id] = key
            return key

    def touch(self, key_id: int, now: datetime) -> None:
        """Record a use."""
        with self._s.lock:
            key = self._s.keys.get(key_id)
            if key is not None:
                self._s.keys[key_id] = dataclasses.replace(key, last_used_at=now)


class MemorySessionStore:
    """``SessionStore`` in memory."""

    def __init__(self, state: MemoryStores) -> None:
        self._s = state

    def add(self, record: SessionRecord) -> None:
        """Store a session."""
        with self._s.lock:
            if record.user_id not in self._s.users:
                raise Conflict("no such user for the session", name=str(record.user_id))
            self._s.sessions[record.token_hash] = record

    def get(self, token_hash: str) -> SessionRecord | None:
        """The session, or None."""
        return self._s.sessions.get(token_hash)

    def delete(self, token_hash: str) -> None:
        """Forget the session."""
        with self._s.lock:
            self._s.sessions.pop(token_hash, None)

    def purge_expired(self, now: datetime) -> int:
        """Delete expired sessions."""
        with self._s.lock:
            expired = [key for key, value in self._s.sessions.items() if value.expires_at < now]
            for key in expired:
                del self._s.sessions[key]
            return len(expired)

    def end_for_user(self, user_id: int, keep: str | None = None) -> int:
        """Delete the user's sessions but ``keep``."""
        with self._s.lock:
            ended = [k for k, v in self._s.sessions.items() if v.user_id == user_id and k != keep]
            for key in ended:
                del self._s.sessions[key]
            return len(ended)


class MemoryAuditLog:
    """``AuditLog`` in memory."""

    def __init__(self, state: MemoryStores) -> None:
        self._s = state

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Store the entry."""
        with self._s.lock:
            stored = dataclasses.replace(entry, id=self._s.new_id())
            self._s.audit.append(stored)
            return stored

    def recent(self, limit: int = 100, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        entries = [
            entry
            for entry in reversed(self._s.audit)
            if (actor is None or entry.actor == actor) and (action is None or entry.action.startswith(action))
        ]
        return entries[:limit]
