"""The simulation tier logs warnings only: a scenario's timeline is what a failure is read from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.telemetry import configure_logging


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> Iterator[None]:
    configure_logging("sim", "WARNING", "console")
    yield
