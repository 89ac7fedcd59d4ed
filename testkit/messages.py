"""Schema-valid sample messages for any model, for tests and benchmarks.

``sample(Model, **overrides)`` fills every required field with a value of its declared type that
satisfies the usual constraints (names match our name patterns, addresses are loopback), so a
test never hand-builds a message that drifts from the contract.
"""

from __future__ import annotations

import enum
import ipaddress
import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["sample", "sample_value"]

T = TypeVar("T", bound=BaseModel)


def _bounds(field: FieldInfo | None) -> tuple[float | None, float | None, int]:
    low = high = None
    min_len = 1
    for item in field.metadata if field else ():
        if isinstance(item, Ge | Gt):
            low = float(item.ge if isinstance(item, Ge) else item.gt)  # type: ignore[arg-type]
            if isinstance(item, Gt):
                low += 1
        elif isinstance(item, Le | Lt):
            high = float(item.le if isinstance(item, Le) else item.lt)  # type: ignore[arg-type]
            if isinstance(item, Lt):
                high -= 1
        elif isinstance(item, MinLen):
            min_len = max(min_len, item.min_length)
    return low, high, min_len


def sample_value(annotation: Any, field: FieldInfo | None = None, name: str = "x") -> Any:
    """A valid value for ``annotation`` (with ``field``'s constraints)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return sample_value(args[0], field, name)
    if origin in (typing.Union, types.UnionType):
        choices = [arg for arg in args if arg is not type(None)]
        return sample_value(choices[0], field, name)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, set, frozenset, tuple):
        return origin() if origin is not tuple else ()
    if origin is dict:
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return sample(annotation)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation))
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int | float):
            low, high, _ = _bounds(field)
            value = low if low is not None else (high if high is not None and high < 1 else 1)
            return annotation(value)
        if issubclass(annotation, str):
            _, _, min_len = _bounds(field)
            return (name.replace("_", "-") + "-1").ljust(min_len, "x")
        if issubclass(annotation, datetime):
            return datetime(2026, 1, 1, tzinfo=UTC)
        if issubclass(annotation, uuid.UUID):
            return uuid.uuid4()
    if annotation in (ipaddress.IPv4Address, ipaddress.IPv6Address) or "IPv" in str(annotation):
        return "127.0.10.5"
    if annotation is typing.Any:
        return "value"
    raise TypeError(f"cannot build a sample for {annotation!r}")


def sample(model: type[T], **overrides: Any) -> T:
    """A valid instance of ``model`` with ``overrides`` applied."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in overrides:
            values[name] = overrides[name]
        elif field.is_required():
            values[name] = sample_value(field.annotation, field, name)
    return model.model_validate(values)
