"""The base of every domain value, and the name patterns several values share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["GROUP_NAME_PATTERN", "NAME_PATTERN", "Frozen"]

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
"""VM prefixes and IP-pool names: part of VM host names and of derived names (§5.1)."""

GROUP_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$"
"""Group names: the original's service names, which may carry upper case (they key its rules,
routes, cooldowns and webhook path); unique regardless of case, at most 63 characters."""


class Frozen(BaseModel):
    """Base of every domain value: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
