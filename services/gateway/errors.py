"""Our exception tree → HTTP, in one place, as RFC 9457 ``application/problem+json``.

Route handlers raise ``shared.errors`` classes (or let them pass from the backend client); they
never build error responses themselves. Validation errors from FastAPI become 422 problems with
an ``errors`` list that the UI shows next to the fields.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    ConfigurationError,
    Conflict,
    Contention,
    InvalidInput,
    NotFound,
    OperationTimeout,
    QuotaExceeded,
    RateLimited,
    RetryableError,
    ServiceUnavailable,
    Unauthorized,
    VmscaleError,
)
from shared.problems import field_errors
from shared.telemetry import get_logger

__all__ = [
    "PROBLEM_JSON",
    "BadRequest",
    "FieldProblem",
    "Forbidden",
    "PayloadTooLarge",
    "Problem",
    "install_error_handlers",
    "problem_response",
    "status_for",
]

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class Forbidden(Unauthorized):
    """Authenticated, but the role does not allow the request (403)."""


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the route accepts (413)."""


class BadRequest(InvalidInput):
    """A body the original system answered with 400 (its routes keep their status codes)."""


class FieldProblem(BaseModel):
    """One invalid field of a request and what is wrong with it."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


# Most specific first: the first matching class decides.
_STATUS: tuple[tuple[type[VmscaleError], int, str], ...] = (
    (Forbidden, 403, "forbidden"),
    (PayloadTooLarge, 413, "payload-too-large"),
    (BadRequest, 400, "bad-request"),
    (Unauthorized, 401, "unauthorized"),
    (NotFound, 404, "not-found"),
    (Conflict, 409, "conflict"),
    (QuotaExceeded, 409, "quota-exceeded"),
    (ConfigurationError, 409, "configuration-error"),
    (InvalidInput, 422, "invalid-input"),
    (RateLimited, 429, "rate-limited"),
    (Contention, 409, "contention"),
    (OperationTimeout, 504, "backend-timeout"),
    (ServiceUnavailable, 503, "service-unavailable"),
    (RetryableError, 503, "service-unavailable"),
)

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    504: "Backend timeout",
}

_SAFE_DETAIL_KEYS = frozenset(
    {"group", "groups", "subject", "field", "retry_after_s", "service", "name", "pool", "errors"}
)


def status_for(exc: VmscaleError) -> tuple[int, str]:
    """The HTTP status and problem type slug for one of our errors."""
    for cls, status, slug in _STATUS:
        if isinstance(exc, cls):
            return status, slug
    return 500, "internal"


def problem_response(
    status: int, detail: str | None, *, slug: str = "", headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        type=f"https://vmscale.dev/problems/{slug}" if slug else "about:blank",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def _vmscale_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VmscaleError)
    status, slug = status_for(exc)
    extra = {key: value for key, value in exc.details.items() if key in _SAFE_DETAIL_KEYS}
    if isinstance(exc, InvalidInput) and exc.fields:
        extra["errors"] = [{"field": field, "message": message} for field, message in exc.fields]
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="vmscale"'
    if status in (429, 503) and "retry_after_s" in exc.details:
        headers["Retry-After"] = str(int(exc.details["retry_after_s"]))
    if status >= 500:
        log.warning("request failed", path=request.url.path, status=status, error=type(exc).__name__)
    return problem_response(status, exc.message, slug=slug, headers=headers, instance=request.url.path, **extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request FastAPI could not parse, or a message that a handler built from the request's
    values and that the contract refused (``pydantic.ValidationError``): both are the caller's 422."""
    assert isinstance(exc, RequestValidationError | ValidationError)
    errors = field_errors(exc, skip=("body",))
    return problem_response(
        422, "the request does not match the schema", slug="invalid-input", instance=request.url.path, errors=errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(exc.status_code, detail, headers=headers, instance=request.url.path)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", path=request.url.path, error=type(exc).__name__)
    return problem_response(500, "an unexpected error occurred", slug="internal", instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to problem+json."""
    app.add_exception_handler(VmscaleError, _vmscale_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
