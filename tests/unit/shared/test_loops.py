"""``every``: a periodic pass that survives its failures, backs off, and can be kicked."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from shared.errors import InvalidInput, ServiceUnavailable
from shared.loops import Backoff, every


class Stop(Exception):
    """Ends a test's loop from inside its sleep."""


class Log:
    """Records what the loop logs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def log(self, level: int, event: str, **kw: Any) -> None:
        self.lines.append((logging.getLevelName(level), event, kw))

    def exception(self, event: str, **kw: Any) -> None:
        self.lines.append(("EXCEPTION", event, kw))


class Steps:
    """A ``sleep`` that records each wait and stops the loop after ``rounds`` waits."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.rounds:
            raise Stop


def scripted(*outcomes: BaseException | None) -> tuple[list[int], Any]:
    """A work function failing as ``outcomes`` say, round by round (None: success)."""
    calls: list[int] = []

    async def work() -> None:
        calls.append(len(calls))
        outcome = outcomes[len(calls) - 1] if len(calls) <= len(outcomes) else None
        if outcome is not None:
            raise outcome

    return calls, work


async def test_work_runs_once_per_interval() -> None:
    calls, work = scripted()
    steps = Steps(3)
    with pytest.raises(Stop):
        await every(5.0, work, name="tick", log=Log(), sleep=steps)
    assert calls == [0, 1, 2]
    assert steps.waits == [5.0, 5.0, 5.0]


async def test_wait_first_waits_before_the_first_run() -> None:
    calls, work = scripted()
    steps = Steps(1)
    with pytest.raises(Stop):
        await every(5.0, work, name="purge", log=Log(), wait_first=True, sleep=steps)
    assert calls == []


@pytest.mark.parametrize(
    ("failure", "level"),
    [
        (ServiceUnavailable("db down"), "WARNING"),
        (InvalidInput("bad row"), "WARNING"),
        (RuntimeError("bug"), "EXCEPTION"),
    ],
    ids=["retryable", "permanent", "unexpected"],
)
async def test_a_failure_is_logged_and_the_next_round_comes(failure: Exception, level: str) -> None:
    calls, work = scripted(failure, None)
    log = Log()
    with pytest.raises(Stop):
        await every(1.0, work, name="sweep", log=log, sleep=Steps(2))
    assert calls == [0, 1]
    assert [(lvl, event) for lvl, event, _ in log.lines] == [
        (level, "sweep failed; retrying" if level == "WARNING" else "sweep failed unexpectedly; retrying")
    ]


async def test_the_log_level_of_an_expected_failure_is_the_callers() -> None:
    _, work = scripted(ServiceUnavailable("down"))
    log = Log()
    with pytest.raises(Stop):
        await every(1.0, work, name="gauges", log=log, level=logging.DEBUG, sleep=Steps(1))
    assert log.lines[0][0] == "DEBUG"
    assert log.lines[0][2] == {"error": "down", "failures": 1}


async def test_backoff_grows_with_failures_in_a_row_and_a_success_resets_it() -> None:
    down = ServiceUnavailable("down")
    _, work = scripted(down, down, down, None, down)
    steps = Steps(5)
    with pytest.raises(Stop):
        await every(1.0, work, name="watch", log=Log(), backoff=Backoff(0.5, max_s=1.5), sleep=steps)
    assert steps.waits == [0.5, 1.0, 1.5, 1.0, 0.5]


async def test_cancellation_ends_the_loop() -> None:
    started = asyncio.Event()

    async def work() -> None:
        started.set()

    task = asyncio.create_task(every(3600.0, work, name="tick", log=Log()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_wake_ends_the_wait_early() -> None:
    wake = asyncio.Event()
    ran = asyncio.Queue[int]()
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        await ran.put(calls)

    task = asyncio.create_task(every(3600.0, work, name="relay", log=Log(), wake=wake))
    assert await ran.get() == 1
    wake.set()
    assert await ran.get() == 2  # long before the hour is up
    assert not wake.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(
    ("failures", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (10, 5.0)], ids=["first", "second", "third", "capped"]
)
def test_backoff_doubles_up_to_its_cap(failures: int, delay: float) -> None:
    assert Backoff(0.5, max_s=5.0).delay(failures) == delay


def test_backoff_counts_failures_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        Backoff(1.0).delay(0)
