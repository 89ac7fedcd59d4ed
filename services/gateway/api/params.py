"""Path parameters shared by the routes, constrained as the contract constrains them.

A name that the message it ends up in would refuse is a 422 at the door, documented in the
OpenAPI document, instead of a failed validation deep in a handler.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AwareDatetime, BeforeValidator

from shared.messages import JOB_PATTERN, VM_NAME_MAX, VM_NAME_PATTERN

__all__ = ["GroupName", "Instant", "JobName", "RowId", "VmName"]

# the scaler's GROUP_NAME_PATTERN: the original's service names may carry upper case
GroupName = Annotated[str, Path(pattern=r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$", max_length=63)]
VmName = Annotated[str, Path(min_length=1, max_length=VM_NAME_MAX, pattern=VM_NAME_PATTERN)]
JobName = Annotated[str, Path(min_length=1, max_length=128, pattern=JOB_PATTERN)]
# A row of the gateway's own tables (users, API keys): a PostgreSQL ``integer``.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 date-time (pydantic would also take a number as Unix seconds)."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("an RFC 3339 date-time with a time zone, e.g. 2026-12-04T17:00:00Z")
    return value


# A point in time in a query (since/until): RFC 3339 with a time zone, else 422.
Instant = Annotated[
    AwareDatetime | None,
    BeforeValidator(_rfc3339),
    Query(description="RFC 3339 date-time with a time zone, e.g. 2026-12-04T17:00:00Z"),
]
