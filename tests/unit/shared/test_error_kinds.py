"""A reply names its error by the shared tree, whatever subclass a service raised."""

from __future__ import annotations

import pytest

from services.scaler.domain.errors import ActivityRunning, InvalidPolicy, PoolExhausted, StaleLease, UnknownGroup
from shared import errors


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (UnknownGroup("x"), "NotFound"),
        (InvalidPolicy("x"), "InvalidInput"),
        (PoolExhausted("x"), "QuotaExceeded"),
        (ActivityRunning("x"), "Conflict"),
        (StaleLease("x"), "Contention"),
        (errors.ServiceUnavailable("x"), "ServiceUnavailable"),
        (errors.VmscaleError("x"), "VmscaleError"),
    ],
)
def test_kind_of_is_the_nearest_shared_class(exc: errors.VmscaleError, kind: str) -> None:
    assert errors.kind_of(exc) == kind
    assert isinstance(exc, getattr(errors, kind))
