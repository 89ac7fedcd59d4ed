"""Our error tree maps to HTTP statuses in one place."""

from __future__ import annotations

import pytest

from services.gateway.errors import Forbidden, PayloadTooLarge, status_for
from shared import errors


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.InvalidInput("x"), 422),
        (errors.NotFound("x"), 404),
        (errors.Conflict("x"), 409),
        (errors.QuotaExceeded("x"), 409),
        (errors.ConfigurationError("x"), 409),
        (errors.Unauthorized("x"), 401),
        (Forbidden("x"), 403),
        (PayloadTooLarge("x"), 413),
        (errors.RateLimited("x"), 429),
        (errors.Contention("x"), 409),
        (errors.OperationTimeout("x"), 504),
        (errors.ServiceUnavailable("x"), 503),
        (errors.RetryableError("x"), 503),
        (errors.PermanentError("x"), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_error_class_has_its_status(exc: errors.VmscaleError, status: int) -> None:
    assert status_for(exc)[0] == status
