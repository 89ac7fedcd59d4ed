"""A service's log level changes at run time; libraries' chatter stays at WARNING or above."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings


@pytest.fixture(autouse=True)
def restore_levels() -> Iterator[None]:
    names = ("", "httpx", "httpcore", "asyncssh")
    before = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def test_the_level_changes_now_and_libraries_stay_quiet(tmp_path: Path) -> None:
    runtime = ServiceRuntime("scaler", ServiceSettings(state_dir=tmp_path))
    assert runtime.log_level == "INFO"
    runtime.set_log_level("DEBUG", actor="alice")
    assert runtime.log_level == "DEBUG" and logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("httpx").level == logging.WARNING
    runtime.set_log_level("ERROR")
    assert logging.getLogger().level == logging.ERROR and logging.getLogger("httpcore").level == logging.ERROR


def test_an_unknown_level_is_refused(tmp_path: Path) -> None:
    runtime = ServiceRuntime("scaler", ServiceSettings(state_dir=tmp_path))
    with pytest.raises(ValueError, match="unknown log level"):
        runtime.set_log_level("CHATTY")
    assert runtime.log_level == "INFO"
