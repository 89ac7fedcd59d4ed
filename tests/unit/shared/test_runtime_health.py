"""A service's health answer: every check run at once, timed, external systems named."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from shared.errors import ServiceUnavailable
from shared.runtime import ServiceRuntime, threaded_check
from shared.settings import ServiceSettings


def runtime(tmp_path: Path) -> ServiceRuntime:
    return ServiceRuntime("monitoring", ServiceSettings(state_dir=tmp_path))


async def test_checks_are_reported_with_their_latency_and_the_external_ones_named(tmp_path: Path) -> None:
    service = runtime(tmp_path)

    async def fine() -> None:
        return None

    async def refused() -> None:
        raise ServiceUnavailable("prometheus is unreachable: ConnectError")

    async def says() -> str:
        return "disk full"

    service.add_check("database", fine)
    service.add_check("prometheus", refused, critical=False)
    service.add_check("grafana", says, critical=False)
    reply = await service.health()
    assert reply.checks == {
        "nats": "ok",
        "database": "ok",
        "prometheus": "prometheus is unreachable: ConnectError",
        "grafana": "disk full",
    }
    assert set(reply.latency_ms) == {"database", "prometheus", "grafana"}
    assert all(value >= 0 for value in reply.latency_ms.values())
    assert reply.external == ["grafana", "prometheus"]
    assert reply.healthy is True  # an external system's outage degrades the service, it does not make it unhealthy


async def test_a_failing_critical_check_makes_the_service_unhealthy(tmp_path: Path) -> None:
    service = runtime(tmp_path)

    async def broken() -> None:
        raise OSError("connection refused")

    service.add_check("redis", broken)
    reply = await service.health()
    assert reply.healthy is False and reply.checks["redis"] == "connection refused"


async def test_checks_run_at_once_so_one_slow_system_does_not_hold_up_the_others(tmp_path: Path) -> None:
    # each check waits for the other to have started: run one after the other, the first would
    # time out waiting for the second
    service = runtime(tmp_path)
    started = {"alertmanager": asyncio.Event(), "prometheus": asyncio.Event()}

    def meeting(me: str, other: str) -> Callable[[], Awaitable[None]]:
        async def check() -> None:
            started[me].set()
            await started[other].wait()

        return check

    service.add_check("prometheus", meeting("prometheus", "alertmanager"), critical=False)
    service.add_check("alertmanager", meeting("alertmanager", "prometheus"), critical=False)
    reply = await service.health()
    assert reply.checks["prometheus"] == "ok" and reply.checks["alertmanager"] == "ok"


async def test_a_check_that_does_not_answer_in_two_seconds_says_so(tmp_path: Path) -> None:
    service = runtime(tmp_path)

    async def hangs() -> None:
        await asyncio.Event().wait()

    service.add_check("vcenter", hangs, critical=False)
    reply = await service.health()
    assert reply.checks["vcenter"] == "no answer within 2 s"


async def test_a_threaded_check_never_starts_a_second_call_while_one_hangs(tmp_path: Path) -> None:
    release = threading.Event()
    calls: list[int] = []

    def ping() -> None:  # a vendor SDK call that blocks until the far end answers
        calls.append(1)
        if not release.wait(timeout=30):
            raise OSError("vCenter did not answer")

    service = runtime(tmp_path)
    service.add_check("vcenter", threaded_check(ping), critical=False)
    first = await service.health()
    second = await service.health()
    assert first.checks["vcenter"] == second.checks["vcenter"] == "no answer within 2 s"
    assert len(calls) == 1  # the second health answer waited on the same hung call
    release.set()
    await asyncio.sleep(0)
    for _ in range(100):
        if (await service.health()).checks["vcenter"] == "ok":
            break
    assert (await service.health()).checks["vcenter"] == "ok"
    assert len(calls) >= 2


async def test_a_threaded_check_reports_what_the_call_raised(tmp_path: Path) -> None:
    def refused() -> None:
        raise ServiceUnavailable("vCenter is unreachable: ConnectionRefusedError")

    service = runtime(tmp_path)
    service.add_check("vcenter", threaded_check(refused), critical=False)
    assert (await service.health()).checks["vcenter"] == "vCenter is unreachable: ConnectionRefusedError"
