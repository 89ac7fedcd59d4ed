"""FastStream's 'Task-N raised an exception, retrying' after a JetStream pull timed out is a
warning without a traceback; any other failure it reports stays an error with its traceback."""

from __future__ import annotations

import logging

import pytest

from shared.bus import _bus_logger


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> list[logging.LogRecord]:
    logger = _bus_logger()
    handler = Capture()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def report(failure: BaseException) -> None:
    try:
        raise failure
    except BaseException:
        _bus_logger().exception("Task-27 raised an exception, retrying...")


def test_a_pull_timeout_is_a_warning_without_a_traceback(captured: list[logging.LogRecord]) -> None:
    report(TimeoutError())
    [record] = captured
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert "pull timed out" in record.getMessage()


def test_any_other_failure_stays_an_error_with_its_traceback(captured: list[logging.LogRecord]) -> None:
    report(RuntimeError("decode failed"))
    [record] = captured
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert _bus_logger().filters.count(_bus_logger().filters[0]) == 1  # added once however often it is built
