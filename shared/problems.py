"""Validation errors as people read them: each pydantic error as a dotted field path and its message.

The one formatting of a ``pydantic.ValidationError`` for every surface: the gateway's problem
documents (``field_errors``: ``[{"field": "spec.min_size", "message": ...}]``), and one-line
reasons in logs, dead letters and domain errors (``summary``: ``"spec.min_size: ...; name: ..."``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol, TypedDict

__all__ = ["FieldError", "ValidationErrors", "field_errors", "field_path", "summary"]


class ValidationErrors(Protocol):
    """What reports validation errors: ``pydantic.ValidationError``, FastAPI's ``RequestValidationError``."""

    def errors(self) -> Sequence[Any]:
        """Each error as a dict with ``loc`` and ``msg``."""
        ...


class FieldError(TypedDict):
    """One problem of a problem document's ``errors`` list."""

    field: str
    message: str


def field_path(loc: Sequence[Any], *, skip: Collection[str] = ()) -> str:
    """``loc`` as a dotted path (``("spec", "policies", 0)`` → ``"spec.policies.0"``), without the
    parts in ``skip`` (FastAPI's ``"body"``); ``""`` is the whole object."""
    return ".".join(str(part) for part in loc if part not in skip)


def field_errors(exc: ValidationErrors, *, skip: Collection[str] = (), limit: int | None = None) -> list[FieldError]:
    """The first ``limit`` (all when None) errors of ``exc`` as ``{"field", "message"}``, in order."""
    errors = list(exc.errors())
    return [
        FieldError(field=field_path(err["loc"], skip=skip), message=str(err["msg"]))
        for err in (errors if limit is None else errors[:limit])
    ]


def summary(exc: ValidationErrors, *, whole: str = "", skip: Collection[str] = ()) -> str:
    """Every error of ``exc`` on one line, ``"field: message; ..."``; an error of the whole object
    is named ``whole`` (``"field: message"`` needs a name; ``""`` leaves the message bare)."""
    return "; ".join(
        f"{err['field'] or whole}: {err['message']}" if err["field"] or whole else err["message"]
        for err in field_errors(exc, skip=skip)
    )
