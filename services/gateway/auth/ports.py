"""Storage ports of the gateway: users, API keys, sessions and the audit log.

Each has a SQL adapter (``adapters/sql_auth.py``) and an in-memory fake (``testkit/gateway/memory.py``,
not shipped) that pass the same contract suite (``tests/contracts/gateway_stores.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.gateway.auth.model import Role

__all__ = [
    "ApiKeyRecord",
    "AuditEntry",
    "AuditLog",
    "KeyStore",
    "SessionRecord",
    "SessionStore",
    "UserRecord",
    "UserStore",
]


@dataclass(frozen=True)
class UserRecord:
    """A stored user."""

    id: int
    username: str
    password_hash: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    """A stored API key (hash only)."""

    id: int
    name: str
    prefix: str
    key_hash: str
    role: Role
    user_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


@dataclass(frozen=True)
class SessionRecord:
    """A login session (hash of the cookie token only)."""

    token_hash: str
    user_id: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, from where. ``detail`` never holds a secret."""

    at: datetime
    actor: str
    action: str
    target: str
    source: str
    outcome: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


class UserStore(Protocol):
    """Users. Calls block until stored; errors: ``Conflict``, ``NotFound``, ``ServiceUnavailable``."""

    def add(self, username: str, password_hash: str, role: Role, now: datetime) -> UserRecord:
        """Store a new user; ``Conflict`` when the name is taken (case-insensitive)."""
        ...

    def get(self, user_id: int) -> UserRecord | None:
        """The user with that id, or None."""
        ...

    def by_name(self, username: str) -> UserRecord | None:
        """The user with that name (case-insensitive), or None."""
        ...

    def list(self) -> list[UserRecord]:
        """Every user, by id."""
        ...

    def update(
        self, user_id: int, *, role: Role | None = None, disabled: bool | None = None, password_hash: str | None = None
    ) -> UserRecord:
        """Change the given fields; ``NotFound`` when there is no such user."""
        ...

    def delete(self, user_id: int) -> None:
        """Remove the user (and, by cascade, its sessions and keys); ``NotFound`` when absent."""
        ...

    def count(self) -> int:
        """How many users exist."""
        ...


class KeyStore(Protocol):
    """API keys. Errors: ``Conflict`` (duplicate name), ``NotFound``, ``ServiceUnavailable``."""

    def add(
        self, name: str, prefix: str, key_hash: str, role: Role, user_id: int | None, now: datetime
    ) -> ApiKeyRecord:
        """Store a new key; ``Conflict`` when the name is taken."""
        ...

    def by_prefix(self, prefix: str) -> list[ApiKeyRecord]:
        """Keys whose lookup prefix is ``prefix`` (normally zero or one)."""
        ...

    def list(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included, by id."""
        ...

    def revoke(self, key_id: int) -> ApiKeyRecord:
        """Mark the key revoked (idempotent); ``NotFound`` when absent."""
        ...

    def touch(self, key_id: int, now: datetime) -> None:
        """Record a use of the key (best effort)."""
        ...


class SessionStore(Protocol):
    """Login sessions keyed by the SHA-256 of the cookie token."""

    def add(self, record: SessionRecord) -> None:
        """Store a session."""
        ...

    def get(self, token_hash: str) -> SessionRecord | None:
        """The session, or None (expired sessions are returned; the caller checks)."""
        ...

    def delete(self, token_hash: str) -> None:
        """Forget the session (idempotent)."""
        ...

    def purge_expired(self, now: datetime) -> int:
        """Delete sessions that expired before ``now``; returns how many."""
        ...

    def end_for_user(self, user_id: int, keep: str | None = None) -> int:
        """Delete every session of the user except the one hashed ``keep``; returns how many
        (idempotent: none left is 0)."""
        ...


class AuditLog(Protocol):
    """Append-only record of changes."""

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Store the entry and return it with its id."""
        ...

    def recent(self, limit: int = 100, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
        """Newest first, optionally filtered by actor and action prefix."""
        ...
