"""A command handler's failure policy: a failure event instead of a silent dead letter."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from shared.delivery import answer_failures, delivery_count, is_last_delivery
from shared.errors import NotFound, OperationTimeout, ServiceUnavailable, VmscaleError


def delivered(times: int | None) -> Any:
    """A FastStream message as JetStream delivers it for the ``times``-th time (None: core NATS)."""
    if times is None:
        return SimpleNamespace(raw_message=SimpleNamespace())
    return SimpleNamespace(raw_message=SimpleNamespace(metadata=SimpleNamespace(num_delivered=times)))


@pytest.mark.parametrize(("times", "count"), [(None, 1), (1, 1), (4, 4)], ids=["core-nats", "first", "fourth"])
def test_the_delivery_count_comes_from_jetstream_metadata(times: int | None, count: int) -> None:
    assert delivery_count(delivered(times)) == count


def test_the_last_delivery_is_the_one_that_reaches_max_deliver() -> None:
    assert not is_last_delivery(delivered(4), 5)
    assert is_last_delivery(delivered(5), 5)


async def run(exc: VmscaleError | None, times: int, final: Any = None) -> list[VmscaleError]:
    reported: list[VmscaleError] = []

    async def work() -> None:
        if exc is not None:
            raise exc

    async def report(failure: VmscaleError) -> None:
        reported.append(failure)

    extra = {} if final is None else {"final": final}
    await answer_failures(delivered(times), 5, work, report, **extra)
    return reported


async def test_success_reports_nothing() -> None:
    assert await run(None, 1) == []


async def test_a_permanent_failure_is_reported_at_once() -> None:
    failure = NotFound("no such pool")
    assert await run(failure, 1) == [failure]


async def test_a_retryable_failure_before_the_last_delivery_is_raised_for_redelivery() -> None:
    with pytest.raises(ServiceUnavailable):
        await run(ServiceUnavailable("F5 down"), 4)


async def test_a_retryable_failure_on_the_last_delivery_is_reported() -> None:
    failure = ServiceUnavailable("F5 down")
    assert await run(failure, 5) == [failure]


async def test_a_failure_the_caller_calls_final_is_reported_on_any_delivery() -> None:
    failure = OperationTimeout("target never came up")
    assert await run(failure, 1, final=lambda exc: isinstance(exc, OperationTimeout)) == [failure]


async def test_a_bug_goes_to_the_bus_policy() -> None:
    async def work() -> None:
        raise RuntimeError("bug")

    async def report(failure: VmscaleError) -> None:
        raise AssertionError("not reported")

    with pytest.raises(RuntimeError):
        await answer_failures(delivered(5), 5, work, report)
