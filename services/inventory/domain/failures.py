"""Which ``FailureReason`` an error stands for, and whether retrying can help."""

from __future__ import annotations

from shared.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OperationTimeout,
    QuotaExceeded,
    ServiceUnavailable,
    Unauthorized,
    VmscaleError,
)
from shared.vocabulary import FailureReason

__all__ = ["reason_for"]

_BY_CLASS: list[tuple[type[VmscaleError], FailureReason]] = [
    (InvalidInput, FailureReason.INVALID_INPUT),
    (NotFound, FailureReason.NOT_FOUND),
    (QuotaExceeded, FailureReason.INSUFFICIENT_RESOURCES),
    (Unauthorized, FailureReason.PERMISSION),
    (OperationTimeout, FailureReason.TIMEOUT),
    (ServiceUnavailable, FailureReason.CONNECTION),
    (Conflict, FailureReason.CONFLICT),
]


def reason_for(exc: VmscaleError) -> FailureReason:
    """The typed reason: the error's own ``reason`` detail, else one derived from its class."""
    explicit = exc.details.get("reason")
    if explicit:
        try:
            return FailureReason(explicit)
        except ValueError:
            pass
    for cls, reason in _BY_CLASS:
        if isinstance(exc, cls):
            return reason
    return FailureReason.TIMEOUT if exc.retryable else FailureReason.CONFLICT
