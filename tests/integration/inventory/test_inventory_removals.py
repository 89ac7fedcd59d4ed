"""A VM removed from vCenter by someone else leaves the inventory through the change feed.

The VMs are destroyed straight through the vCenter API (pyvmomi on a session of its own), as an
operator or another tool would, never through vmscale. A removal must reach the cache in the
feed's next answer, not wait for a full resync (issue 12: it stayed cached, and the scaler
learnt of the lost VM from Prometheus instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from lab.vcsim import Vcsim
from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
from services.inventory.adapters.vcenter_watch import VcenterInventory
from shared import subjects
from shared.errors import VmscaleError
from shared.messages import InventoryStatusQuery, VmQuery, VmsQuery
from tests.integration.inventory.conftest import Client, Running


def destroy_behind_our_back(vcsim: Vcsim, name: str) -> str:
    """Power ``name`` off and destroy it at once, on a vCenter session of our own; its moref."""
    si = SmartConnect(host=vcsim.host, port=vcsim.port, user=vcsim.username, pwd=vcsim.password, protocol="http")
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        vm = next(v for v in view.view if v.name == name)
        moref = str(vm._moId)
        if vm.runtime.powerState == "poweredOn":
            WaitForTask(vm.PowerOffVM_Task(), si=si)
        WaitForTask(vm.Destroy_Task(), si=si)
        return moref
    finally:
        Disconnect(si)


async def test_a_vm_destroyed_behind_our_back_leaves_the_cache_through_the_running_feed(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    before = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery())
    assert "web-2" in [vm.name for vm in before.vms]
    collectors = vcsim.faults.calls().get("CreatePropertyCollector", 0)
    # Hold the feed's next wait at vcsim's door while the VM goes, so that its power-off and its
    # removal reach the feed in one answer, as they do whenever the feed is not waiting at that
    # instant (it is busy with the previous answer, or the destroy is quick).
    vcsim.faults.add("WaitForUpdatesEx", delay_ms=3000)
    for _ in range(200):  # the rule is consumed when the feed's next wait arrives
        if not vcsim.faults.armed():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the feed never called WaitForUpdatesEx again")

    moref = await asyncio.to_thread(destroy_behind_our_back, vcsim, "web-2")

    for _ in range(300):  # a bound so that a lost removal fails the test instead of hanging it
        reply = await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-2"))
        if reply.vm is None:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("web-2 was destroyed in vCenter but the inventory still reports it")
    since = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery(since_revision=before.revision))
    assert since.removed == (moref,) and since.vms == ()
    # it came through the feed that was running, not through a restarted one (a full resync)
    assert vcsim.faults.calls().get("CreatePropertyCollector", 0) == collectors
    status = await client.ask(subjects.QUERY_INVENTORY_STATUS, InventoryStatusQuery())
    assert status.connected and status.consecutive_failures == 0 and status.vm_count == 6


@pytest.fixture
def reader(vcsim: Vcsim) -> Iterator[VcenterInventory]:
    session = VcenterSession(
        ConnectionParams(vcsim.host, vcsim.port, vcsim.username, vcsim.password, protocol="http", timeout_s=10)
    )
    try:
        yield VcenterInventory(session)
    finally:
        session.close()


def test_after_an_answer_lost_on_its_way_the_feed_restarts_with_the_full_picture(
    reader: VcenterInventory, vcsim: Vcsim
) -> None:
    web = next(vm for vm in reader.snapshot().vms if vm.name == "web-3")
    moref = destroy_behind_our_back(vcsim, "web-3")
    vcsim.faults.add("WaitForUpdatesEx", fault="SystemError", message="the answer was lost")
    with pytest.raises(VmscaleError):
        reader.changes(1)
    # what the lost answer carried may be gone with it: the next answer is everything, now
    batch = reader.changes(1)
    assert batch.full and web.moref == moref
    assert moref not in {vm.moref for vm in batch.upserts}
    assert {vm.name for vm in batch.upserts} >= {"web-1", "web-10", "tpl-web"}
