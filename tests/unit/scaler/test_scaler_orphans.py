"""The orphan sweeper reports tagged VMs without a live record, after two sweeps, never deletes."""

from __future__ import annotations

import pytest
from scaler_harness import Harness

from services.scaler.domain.model import InstanceState
from services.scaler.orphans import OrphanSweeper, find_orphans
from shared import subjects

pytestmark = pytest.mark.unit


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
