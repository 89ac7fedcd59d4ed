"""The original's Jenkins callbacks in the scaler: adopt a VM it created, forget one it deleted.

A VM the original's pipeline made (``<prefix>-<yyyyMMddHHmm>``) becomes an autoscaled instance
dated by its name, so vmscale scales it in newest first, as the original did; base VMs never.
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from services.scaler.domain.errors import ActivityRunning, UnknownGroup
from services.scaler.domain.model import Instance, InstanceState
from services.scaler.domain.original_naming import autoscaled_at
from services.scaler.domain.victims import pick_victims
from tests.unit.scaler.scaler_harness import Harness


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("auto-vm-test-202512110930", datetime(2025, 12, 11, 9, 30, tzinfo=UTC)),
        ("Shop-API-202601010000", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
        ("auto-vm-test-01", None),
        ("auto-vm-test", None),
        ("auto-vm-test-202513110930", None),  # month 13: twelve digits, not a time
        ("auto-vm-test202512110930", None),  # no dash before the digits
        ("auto-vm-test-2025121109301", None),  # thirteen digits
    ],
)
def test_the_original_autoscaled_vm_names_carry_their_creation_time(name: str, expected: datetime | None) -> None:
    assert autoscaled_at(name) == expected


async def test_vm_created_adopts_an_autoscaled_instance_with_its_address_once() -> None:
    h = Harness()
    await h.setup(enabled=False, base=2)
    outcome, changed, instance = await h.scaler.callbacks.adopt("web", "web-202512110930", IPv4Address("127.0.10.12"))
    assert (outcome, changed) == ("adopted", True)
    assert instance is not None and not instance.base and not instance.protected
    assert instance.state is InstanceState.IN_SERVICE
    assert instance.created_at == datetime(2025, 12, 11, 9, 30, tzinfo=UTC)
    leases = {(str(lease.address), lease.vm_name, lease.state) for lease in await h.leases()}
    assert ("127.0.10.12", "web-202512110930", "confirmed") in leases
    again = await h.scaler.callbacks.adopt("web", "web-202512110930", IPv4Address("127.0.10.12"))
    assert again[:2] == ("already-managed", False)
    assert len(await h.instances()) == 3


async def test_an_adopted_vm_without_a_timestamp_is_dated_now() -> None:
    h = Harness()
    await h.setup(enabled=False, base=0)
    _, _, instance = await h.scaler.callbacks.adopt("web", "web-manual", IPv4Address("127.0.10.99"))
    assert instance is not None and instance.created_at == h.clock.now()
    assert await h.leases() == [], "an address outside the pool gets no lease"


async def test_the_original_autoscaled_vms_scale_in_newest_first_and_base_vms_never() -> None:
    h = Harness()
    await h.setup(enabled=False, base=2)
    for name, address in [
        ("web-202512110930", "127.0.10.12"),
        ("web-202512111015", "127.0.10.13"),
        ("web-202512100800", "127.0.10.14"),
    ]:
        await h.scaler.callbacks.adopt("web", name, IPv4Address(address))
    victims = pick_victims(await h.instances(), 5)
    assert [v.vm_name for v in victims] == ["web-202512111015", "web-202512110930", "web-202512100800"]


async def test_vm_deleted_terminates_the_instance_and_releases_its_address_once() -> None:
    h = Harness()
    await h.setup(enabled=False, base=2)
    await h.scaler.callbacks.adopt("web", "web-202512110930", IPv4Address("127.0.10.12"))
    outcome, changed, instance = await h.scaler.callbacks.mark_gone(
        "web", "web-202512110930", IPv4Address("127.0.10.12")
    )
    assert (outcome, changed) == ("marked-gone", True)
    assert instance is not None and instance.state is InstanceState.TERMINATED
    assert "127.0.10.12" not in {str(lease.address) for lease in await h.leases()}
    again = await h.scaler.callbacks.mark_gone("web", "web-202512110930", IPv4Address("127.0.10.12"))
    assert again[:2] == ("already-gone", False)
    unknown = await h.scaler.callbacks.mark_gone("web", "web-nobody", IPv4Address("127.0.10.77"))
    assert unknown == ("already-gone", False, None)


async def test_a_vm_that_vmscale_is_removing_is_not_marked_gone_behind_its_back() -> None:
    h = Harness()
    await h.setup(enabled=False, base=0)
    draining = Instance(
        group="web",
        vm_name="web-202512110930",
        address=IPv4Address("127.0.10.12"),
        state=InstanceState.DRAINING,
        activity_id="act-1",
        created_at=h.clock.now(),
    )
    await h.store.transaction(lambda uow: uow.instances.save(draining))
    with pytest.raises(ActivityRunning):
        await h.scaler.callbacks.mark_gone("web", "web-202512110930", IPv4Address("127.0.10.12"))
    (still,) = await h.instances()
    assert still.state is InstanceState.DRAINING


async def test_callbacks_for_an_unknown_group_are_refused() -> None:
    h = Harness()
    with pytest.raises(UnknownGroup):
        await h.scaler.callbacks.adopt("nosuch", "x-202512110930", IPv4Address("127.0.10.12"))
    with pytest.raises(UnknownGroup):
        await h.scaler.callbacks.mark_gone("nosuch", "x-202512110930", IPv4Address("127.0.10.12"))
