"""The one exception tree of vmscale.

Every adapter translates its vendor's errors into one of these classes (``raise ... from exc``),
so callers, the bus and the gateway can act on the *kind* of failure without knowing the vendor::

    VmscaleError
    ├── RetryableError                 try again later; the same request may succeed
    │   ├── ServiceUnavailable  (ConnectionError)   a server is down or unreachable
    │   ├── OperationTimeout    (TimeoutError)      a call or a wait ran out of time
    │   ├── RateLimited                             the far side asked us to slow down
    │   └── Contention                              a lock or lease is held by someone else
    └── PermanentError                 the same request will fail again; do not retry
        ├── InvalidInput        (ValueError)        a message or request breaks the contract
        ├── NotFound            (LookupError)       the named object does not exist
        ├── Conflict                                the object exists in an incompatible state
        ├── Unauthorized        (PermissionError)   credentials missing, wrong or not allowed
        ├── QuotaExceeded                           a limit (IP pool, max size, resources) is hit
        └── ConfigurationError                      settings that cannot work (missing pool, ...)

"Nothing to do" is never an error: functions return a value that says so.

On the bus (``shared.bus``) a ``RetryableError`` is nak'ed with a delay until the consumer's
delivery budget is spent; a ``PermanentError`` goes straight to the dead-letter subject with its
reason. In the gateway the tree maps to HTTP status codes in one place.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigurationError",
    "Conflict",
    "Contention",
    "InvalidInput",
    "NotFound",
    "OperationTimeout",
    "PermanentError",
    "QuotaExceeded",
    "RateLimited",
    "RetryableError",
    "ServiceUnavailable",
    "Unauthorized",
    "VmscaleError",
    "kind_of",
]


class VmscaleError(Exception):
    """Base of every error vmscale raises on purpose.

    ``details`` carries structured context (pool, vm_name, subject, ...) for logs and for
    problem+json bodies; it must never hold a secret.
    """

    retryable: bool = False

    def __init__(self, message: str, /, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        if not self.details:
            return self.message
        extra = ", ".join(f"{key}={value!r}" for key, value in sorted(self.details.items()))
        return f"{self.message} ({extra})"


class RetryableError(VmscaleError):
    """A transient failure: the same request may succeed later."""

    retryable = True


class PermanentError(VmscaleError):
    """A failure that retrying cannot fix."""

    retryable = False


class ServiceUnavailable(RetryableError, ConnectionError):
    """A server is down, unreachable, restarting or answered 5xx."""


class OperationTimeout(RetryableError, TimeoutError):
    """A call, or a wait for a condition, ran out of time."""


class RateLimited(RetryableError):
    """The far side asked us to slow down (HTTP 429 and the like)."""


class Contention(RetryableError):
    """A lock or lease we need is held by someone else right now."""


class InvalidInput(PermanentError, ValueError):
    """A message, request or setting breaks the contract.

    ``fields`` says what is wrong where, as ``(field path, message)`` pairs (``min_size``,
    ``thresholds.cpu_low``; ``""`` for the whole object), so an API can show each message next to
    its input; the message still reads on its own.
    """

    def __init__(self, message: str, /, *, fields: tuple[tuple[str, str], ...] = (), **details: Any) -> None:
        super().__init__(message, **details)
        self.fields = tuple(fields)


class NotFound(PermanentError, LookupError):
    """The named object does not exist."""


class Conflict(PermanentError):
    """The object exists, but in a state that forbids the request."""


class Unauthorized(PermanentError, PermissionError):
    """Credentials are missing, wrong, expired beyond repair, or not allowed."""


class QuotaExceeded(PermanentError):
    """A limit is reached: IP pool exhausted, group at max, vCenter out of resources."""


class ConfigurationError(PermanentError):
    """Settings that cannot work: a missing pool, template or Prometheus job."""


def kind_of(exc: VmscaleError) -> str:
    """The name of the nearest class of this tree that ``exc`` is: what a reply's ``error_kind``
    carries, so a service's own subclass (the scaler's ``UnknownGroup``) reads as ``NotFound``
    to a caller that knows only this module."""
    for cls in type(exc).__mro__:
        if cls.__module__ == __name__:
            return cls.__name__
    return VmscaleError.__name__
