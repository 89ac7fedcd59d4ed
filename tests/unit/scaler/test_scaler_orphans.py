"""The orphan sweeper reports tagged VMs without a live record, after two sweeps, never deletes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from services.scaler.domain.model import InstanceState
from services.scaler.orphans import OrphanSweeper, find_orphans
from shared import subjects
from shared.loops import every
from tests.unit.scaler.scaler_harness import Harness


@pytest.mark.parametrize(
    ("tagged", "records", "expected"),
    [
        (["web-1", "web-2"], {"web-1": InstanceState.IN_SERVICE, "web-2": InstanceState.PENDING}, ()),
        (["web-1", "web-9"], {"web-1": InstanceState.IN_SERVICE}, ("web-9",)),
        (["web-3"], {"web-3": InstanceState.TERMINATED}, ("web-3",)),
        (["web-3"], {"web-3": InstanceState.DRAINING}, ()),
        ([], {"web-1": InstanceState.IN_SERVICE}, ()),
    ],
    ids=["all-known", "no-record", "record-says-terminated", "still-draining", "nothing-tagged"],
)
def test_an_orphan_is_a_tagged_vm_without_a_live_record(tagged, records, expected) -> None:
    assert find_orphans(tagged, records) == expected


async def test_an_orphan_is_reported_after_two_sweeps_and_the_all_clear_once() -> None:
    h = Harness()
    await h.setup(base=2)
    inventory = {"web": ["web-base-0", "web-base-1", "web-planted"]}

    async def tagged(group: str) -> list[str]:
        return list(inventory.get(group, []))

    sweeper = OrphanSweeper(h.store, tagged, h.scaler.relay)
    assert await sweeper.sweep() == {"web": ()}  # seen once: only a suspect
    assert await sweeper.sweep() == {"web": ("web-planted",)}
    assert await sweeper.sweep() == {"web": ("web-planted",)}
    inventory["web"].remove("web-planted")
    await sweeper.sweep()
    reports = h.publisher.of(subjects.ORPHAN_VMS_DETECTED)
    assert [r.vm_names for r in reports] == [("web-planted",), ()]
    assert {i.vm_name for i in await h.instances()} == {"web-base-0", "web-base-1"}


async def test_the_sweep_loop_outlives_an_unexpected_error_and_still_reports() -> None:
    h = Harness()
    await h.setup(base=2)
    calls: list[str] = []

    async def tagged(group: str) -> list[str]:
        calls.append(group)
        if len(calls) == 1:
            raise RuntimeError("a bug in an adapter")  # not one of ours: it used to end the loop for good
        return ["web-base-0", "web-base-1", "web-planted"]

    sweeper = OrphanSweeper(h.store, tagged, h.scaler.relay)
    await _until_reported(h, every(0.0, sweeper.sweep, name="orphan sweep", wait_first=True))
    assert h.publisher.of(subjects.ORPHAN_VMS_DETECTED)[0].vm_names == ("web-planted",)


async def test_the_outbox_relay_outlives_an_unexpected_error() -> None:
    h = Harness()
    await h.setup(base=2)
    publish = h.publisher.publish
    armed: list[bool] = []
    failures: list[str] = []

    async def flaky(subject, message) -> None:  # type: ignore[no-untyped-def]
        if armed and not failures:
            failures.append(subject.name)
            raise RuntimeError("a bug in a publisher")  # not one of ours: it used to end the relay for good
        await publish(subject, message)

    h.publisher.publish = flaky  # type: ignore[method-assign]

    async def tagged(group: str) -> list[str]:
        return ["web-base-0", "web-base-1", "web-planted"]

    sweeper = OrphanSweeper(h.store, tagged, h.scaler.relay)
    h.publisher.down = True  # the report stays in the outbox, for the relay loop
    await sweeper.sweep()
    await sweeper.sweep()
    h.publisher.down = False
    armed.append(True)
    await _until_reported(h, h.scaler.relay.run(interval_s=0.01))
    assert failures == [subjects.ORPHAN_VMS_DETECTED.name]


async def _until_reported(h: Harness, loop: Coroutine[Any, Any, None]) -> None:
    """Run ``loop`` until an orphan report is published; it must never end by itself."""
    task = asyncio.create_task(loop)
    try:
        while not h.publisher.of(subjects.ORPHAN_VMS_DETECTED):
            assert not task.done(), task
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
