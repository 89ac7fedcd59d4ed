"""Roles, principals and the public shapes of users and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "Principal",
    "Role",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class Role(StrEnum):
    """What a caller may do; each role includes the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in viewer < operator < admin."""
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True when this role is at least ``needed``."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class Principal(BaseModel):
    """Who is calling: a logged-in user, an API key, or the Alertmanager webhook."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    via: str = Field(description="session, api_key or webhook")
    user_id: int | None = None
    key_id: int | None = None


class UserCreate(BaseModel):
    """A new user; the password is write-only."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=12, max_length=256)
    role: Role = Role.VIEWER


class UserUpdate(BaseModel):
    """Changes to a user; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = Field(default=None, strict=True)
    password: str | None = Field(default=None, min_length=12, max_length=256)


class UserPublic(BaseModel):
    """A user as the API shows it (never the hash)."""

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime


class ApiKeyCreate(BaseModel):
    """A new API key for scripts."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    role: Role = Role.VIEWER


class ApiKeyPublic(BaseModel):
    """An API key as listed: its prefix only, never the secret or the hash."""

    id: int
    name: str
    prefix: str
    role: Role
    user_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyPublic):
    """Returned once, at creation: the only time the full key is shown."""

    key: str
