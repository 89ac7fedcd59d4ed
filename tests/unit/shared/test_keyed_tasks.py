"""``KeyedTasks``: one background task per key, forgotten when done, crashes seen."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.keyed_tasks import KeyedTasks


class Log:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, Any]]] = []

    def error(self, event: str, **kw: Any) -> None:
        self.errors.append((event, kw))


def blocked(gate: asyncio.Event, ran: list[str], name: str) -> Any:
    async def work() -> None:
        ran.append(name)
        await gate.wait()

    return work


async def test_a_second_start_for_a_running_key_does_nothing() -> None:
    tasks: KeyedTasks[str] = KeyedTasks("waits", Log())
    gate, ran = asyncio.Event(), list[str]()
    assert tasks.start("a", blocked(gate, ran, "first"), kind="add")
    assert not tasks.start("a", blocked(gate, ran, "second"), kind="drain")
    assert tasks.kind("a") == "add"
    assert "a" in tasks and len(tasks) == 1
    gate.set()
    await tasks.wait_idle()
    assert ran == ["first"]


async def test_a_finished_task_is_forgotten_so_the_key_can_start_again() -> None:
    tasks: KeyedTasks[str] = KeyedTasks("waits", Log())
    gate, ran = asyncio.Event(), list[str]()
    gate.set()
    tasks.start("a", blocked(gate, ran, "first"))
    await tasks.wait_idle()
    assert "a" not in tasks and tasks.kind("a") is None and tasks.running() == {}
    assert tasks.start("a", blocked(gate, ran, "again"))
    await tasks.wait_idle()
    assert ran == ["first", "again"]


async def test_cancel_stops_one_key_and_waits_for_it() -> None:
    tasks: KeyedTasks[tuple[str, str]] = KeyedTasks("waits", Log())
    gate, ran = asyncio.Event(), list[str]()
    tasks.start(("p", "a"), blocked(gate, ran, "a"), kind="add")
    tasks.start(("p", "b"), blocked(gate, ran, "b"), kind="drain")
    await tasks.cancel(("p", "a"))
    assert tasks.running() == {("p", "b"): "drain"}
    await tasks.cancel(("p", "missing"))  # nothing runs: nothing happens
    await tasks.close()
    assert tasks.running() == {}


async def test_a_crash_is_logged_with_its_key_and_not_raised() -> None:
    log = Log()
    tasks: KeyedTasks[str] = KeyedTasks("pool waits", log)

    async def crash() -> None:
        raise RuntimeError("boom")

    tasks.start("m1", crash)
    await tasks.wait_idle()
    assert log.errors == [("pool waits crashed", {"key": "m1", "error": "RuntimeError('boom')"})]
    assert "m1" not in tasks


async def test_wait_idle_also_waits_for_tasks_started_meanwhile() -> None:
    tasks: KeyedTasks[str] = KeyedTasks("ops", Log())
    done: list[str] = []

    async def second() -> None:
        done.append("second")

    async def first() -> None:
        tasks.start("b", second)
        done.append("first")

    tasks.start("a", first)
    await tasks.wait_idle()
    assert done == ["first", "second"]
