"""Validation errors of group and IP-pool settings, as ``(field path, message)`` pairs.

Pydantic reports a rule of a whole model (``min_size must not exceed max_size``) at the model's own
location and the members of an undiscriminated union (``policies``) each with its own complaint;
an operator wants each message next to the input it is about, once. ``field_problems`` turns a
``ValidationError`` into such pairs: union members other than the one the input names by its
``kind`` are dropped, model-level rules are placed on the field they are about, and pydantic's
``Value error,`` prefix goes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.scaler.domain.model import ScheduledAction, TargetTrackingPolicy
from shared.problems import field_path

__all__ = ["field_problems"]

_UNION_MEMBERS = {
    cls.__name__: str(cls.model_fields["kind"].default) for cls in (TargetTrackingPolicy, ScheduledAction)
}
"""A union member's class name (as it appears in an error's location) → the ``kind`` it takes."""

_RULE_FIELDS = (
    ("thresholds", "scale-in CPU threshold", "thresholds.cpu_low"),
    ("thresholds", "scale-in memory threshold", "thresholds.memory_low"),
    ("thresholds", "scale-in duration", "thresholds.in_for_s"),
)
"""Rules of a nested model that are about one of its fields: (model path, message start, field)."""


def field_problems(exc: ValidationError, data: Any) -> tuple[tuple[str, str], ...]:
    """Each error of ``exc`` (raised validating ``data``) as ``(field path, message)``; ``""`` is
    the whole object. Order is kept; duplicates are dropped."""
    pairs: list[tuple[str, str]] = []
    for error in exc.errors():
        located = _located(tuple(error["loc"]), data)
        if located is None:
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        path = _refined(field_path(located), message, data)
        if (path, message) not in pairs:
            pairs.append((path, message))
    return tuple(pairs)


def _located(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...] | None:
    """The location without union-member tags; None when the error is about a member the input
    did not choose (its ``kind`` names another one)."""
    out: list[Any] = []
    node = data
    for part in loc:
        member = next((kind for name, kind in _UNION_MEMBERS.items() if isinstance(part, str) and name in part), None)
        if member is not None:
            chosen = node.get("kind") if isinstance(node, dict) else None
            if chosen is not None and chosen != member:
                return None
            continue
        out.append(part)
        node = _child(node, part)
    return tuple(out)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _refined(path: str, message: str, data: Any) -> str:
    """A model-level rule placed on the field it is about: the field its message starts with
    (``min_size must not exceed max_size``), or one of ``_RULE_FIELDS``."""
    for model_path, start, field in _RULE_FIELDS:
        if path == model_path and message.startswith(start):
            return field
    if path == "" and isinstance(data, dict):
        first = message.split(" ", 1)[0]
        if first in data or first in ("min_size", "max_size", "vm_prefix"):
            return first
    return path
