"""Path parameters shared by the routes, constrained as the contract constrains them.

A name that the message it ends up in would refuse is a 422 at the door, documented in the
OpenAPI document, instead of a failed validation deep in a handler.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from shared.messages import JOB_PATTERN, VM_NAME_MAX, VM_NAME_PATTERN

__all__ = ["GroupName", "JobName", "VmName"]

GroupName = Annotated[str, Path(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", max_length=63)]
VmName = Annotated[str, Path(min_length=1, max_length=VM_NAME_MAX, pattern=VM_NAME_PATTERN)]
JobName = Annotated[str, Path(min_length=1, max_length=128, pattern=JOB_PATTERN)]
