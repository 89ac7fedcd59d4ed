"""The inventory service over NATS against vcsim: queries from the cache, VM and template lifecycle."""

from __future__ import annotations

import asyncio

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from lab.vcsim import Vcsim
from shared import subjects
from shared.messages import (
    CloneVm,
    ComputeQuery,
    DeleteTemplate,
    DestroyVm,
    FoldersQuery,
    InventoryStatusQuery,
    MakeTemplate,
    NetworkSpec,
    NetworksQuery,
    Placement,
    PowerOffVm,
    PowerOnVm,
    TemplatesQuery,
    VmQuery,
    VmsQuery,
)
from tests.integration.inventory.conftest import Client, Running


def clone(name: str, ip: str, activity: str = "act-1", **changes) -> CloneVm:
    values = {
        "activity_id": activity,
        "group": "web",
        "vm_name": name,
        "template": "tpl-web",
        "network": NetworkSpec(ip=ip, prefix_length=24, gateway="127.0.10.1", network="lab-net"),
        "placement": Placement(folder="prod/web", cluster="c1", resource_pool="web", datastore="ds1"),
    }
    values.update(changes)
    return CloneVm(**values)


def power_off_behind_our_back(vcsim: Vcsim, name: str) -> None:
    si = SmartConnect(
        host=vcsim.host,
        port=vcsim.port,
        user=vcsim.username,
        pwd=vcsim.password,
        protocol="http",
        disableSslCertValidation=True,
    )
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        vm = next(v for v in view.view if v.name == name)
        task = vm.PowerOffVM_Task()
        while task.info.state not in ("success", "error"):
            pass
    finally:
        Disconnect(si)


async def test_queries_answer_from_the_cache_in_natural_order_without_system_vms(
    inventory: Running, client: Client
) -> None:
    reply = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery())
    names = [vm.name for vm in reply.vms]
    assert names == ["app-1", "db-1", "idle-1", "web-1", "web-2", "web-3", "web-10"]
    assert reply.age_s is not None and reply.age_s < 5
    db = next(vm for vm in reply.vms if vm.name == "db-1")
    assert [(n.network, n.ipv4, n.ipv6) for n in db.nics] == [
        ("lab-net", ("127.0.10.50",), ()),
        ("backend-net", ("127.0.20.50",), ("fd00::50",)),
    ]
    assert (db.ip, db.folder, db.cluster, db.datacenter, db.datastores) == (
        "127.0.10.50",
        "prod/db",
        "c1",
        "DC1",
        ("ds2",),
    )
    web = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery(folder="prod", cluster="c1", name_pattern="web-*"))
    assert [vm.name for vm in web.vms] == ["web-1", "web-2", "web-3", "web-10"]
    assert all(vm.resource_pool == "web" for vm in web.vms)
    no_ip = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery(has_ip=False))
    assert [vm.name for vm in no_ip.vms] == ["idle-1"]
    templates = await client.ask(subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery())
    assert [(t.vm.name, t.vm.folder, t.vm.datacenter) for t in templates.templates] == [
        ("tpl-dc2", "templates/linux", "DC2"),
        ("tpl-web", "templates/linux", "DC1"),
    ]
    one = await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-2"))
    assert one.vm.ip == "127.0.10.12"
    networks = await client.ask(subjects.QUERY_INVENTORY_NETWORKS, NetworksQuery(datacenter="DC1"))
    assert [n.name for n in networks.networks] == ["backend-net", "lab-net", "VM Network"]
    folders = await client.ask(subjects.QUERY_INVENTORY_FOLDERS, FoldersQuery(datacenter="DC1"))
    assert "templates/linux" in [f.path for f in folders.folders]
    compute = await client.ask(subjects.QUERY_INVENTORY_COMPUTE, ComputeQuery())
    assert [c.name for c in compute.clusters] == ["c1"]
    assert {(p.name, p.parent) for p in compute.resource_pools} >= {("web", "c1"), ("Resources", "c1")}
    status = await client.ask(subjects.QUERY_INVENTORY_STATUS, InventoryStatusQuery())
    assert status.connected and status.vcenter_version == "6.5.0" and status.consecutive_failures == 0
    assert (status.vm_count, status.template_count) == (7, 2)


async def test_a_change_made_behind_our_back_reaches_the_cache(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    before = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery())
    await asyncio.to_thread(power_off_behind_our_back, vcsim, "web-3")
    for _ in range(100):
        reply = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery(since_revision=before.revision))
        if any(vm.name == "web-3" and vm.power_state == "poweredOff" for vm in reply.vms):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the power-off never reached the cache")
    assert [vm.name for vm in reply.vms] == ["web-3"]


async def test_clone_customize_power_on_gives_the_fixed_ip_and_host_name_then_destroy(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    vcsim.faults.reset_calls()
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-11", "127.0.10.31"))
    cloned = await client.expect(subjects.VM_CLONED, vm_name="web-11")
    assert (cloned.ip, cloned.power_state, cloned.activity_id) == ("127.0.10.31", "poweredOn", "act-1")
    vm = (await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-11"))).vm
    assert (vm.ip, vm.hostname, vm.folder, vm.resource_pool) == ("127.0.10.31", "web-11", "prod/web", "web")
    assert (vm.group, vm.activity_id, vm.nics[0].network) == ("web", "act-1", "lab-net")
    assert vcsim.faults.calls()["CloneVM_Task"] == 1

    await client.bus.publish(subjects.CMD_VM_DESTROY, DestroyVm(activity_id="act-2", vm_name="web-11"))
    await client.expect(subjects.VM_DESTROYED, vm_name="web-11", activity_id="act-2")
    assert (await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-11"))).vm is None
    await client.bus.publish(subjects.CMD_VM_DESTROY, DestroyVm(activity_id="act-3", vm_name="web-11"))
    await client.expect(subjects.VM_DESTROYED, vm_name="web-11", activity_id="act-3")
    assert client.seen(subjects.VM_OPERATION_FAILED) == []


def nic_networks(vcsim: Vcsim, name: str) -> tuple[list[str], list[str]]:
    """What vcsim itself says: the VM's ``network`` names and its NICs' backing device names."""
    si = SmartConnect(
        host=vcsim.host,
        port=vcsim.port,
        user=vcsim.username,
        pwd=vcsim.password,
        protocol="http",
        disableSslCertValidation=True,
    )
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        vm = next(v for v in view.view if v.name == name)
        cards = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
        return [n.name for n in vm.network], [c.backing.deviceName for c in cards]
    finally:
        Disconnect(si)


async def test_a_clone_lands_on_the_requested_network_not_the_templates(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    network = NetworkSpec(ip="127.0.20.31", prefix_length=24, network="backend-net")
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-12", "127.0.20.31", network=network))
    cloned = await client.expect(subjects.VM_CLONED, vm_name="web-12")
    assert (cloned.ip, cloned.power_state) == ("127.0.20.31", "poweredOn")
    assert await asyncio.to_thread(nic_networks, vcsim, "web-12") == (["backend-net"], ["backend-net"])
    vm = (await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-12"))).vm
    assert [(n.network, n.ipv4) for n in vm.nics] == [("backend-net", ("127.0.20.31",))]
    assert await asyncio.to_thread(nic_networks, vcsim, "tpl-web") == (["lab-net"], ["lab-net"])
    bad = NetworkSpec(ip="127.0.20.32", prefix_length=24, network="no-such-net")
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-13", "127.0.20.32", network=bad))
    failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-13")
    assert (failed.reason, failed.retryable) == ("not_found", False)
    assert (await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-13"))).vm is None


async def test_power_off_then_power_on_waits_for_the_expected_ip(inventory: Running, client: Client) -> None:
    await client.bus.publish(subjects.CMD_VM_POWER_OFF, PowerOffVm(activity_id="a1", vm_name="web-2"))
    await client.expect(subjects.VM_POWERED_OFF, vm_name="web-2")
    command = PowerOnVm(activity_id="a2", vm_name="web-2", expected_ip="127.0.10.12", expected_network="lab-net")
    await client.bus.publish(subjects.CMD_VM_POWER_ON, command)
    assigned = await client.expect(subjects.VM_IP_ASSIGNED, vm_name="web-2")
    assert (assigned.ip, assigned.network) == ("127.0.10.12", "lab-net")
    wrong = PowerOnVm(activity_id="a3", vm_name="web-1", expected_ip="127.0.10.99", ip_timeout_s=1)
    await client.bus.publish(subjects.CMD_VM_POWER_ON, wrong)
    failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-1")
    assert (failed.reason, failed.retryable) == ("ip_timeout", True)


async def test_template_creation_keeps_the_source_powered_on_and_remembers_the_description(
    inventory: Running, client: Client
) -> None:
    command = MakeTemplate(source_vm="web-1", template_name="tpl-web-v2", description="web image, Nov")
    await client.bus.publish(subjects.CMD_TEMPLATE_CREATE, command)
    created = await client.expect(subjects.TEMPLATE_CREATED, template_name="tpl-web-v2")
    source = (await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-1"))).vm
    assert source.power_state == "poweredOn"
    templates = (await client.ask(subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery(name_prefix="tpl-web-"))).templates
    assert [(t.vm.name, t.vm.moref, t.description, t.source_vm) for t in templates] == [
        ("tpl-web-v2", created.moref, "web image, Nov", "web-1")
    ]
    assert templates[0].vm.template and templates[0].vm.folder == "prod/web"
    await client.bus.publish(subjects.CMD_TEMPLATE_DELETE, DeleteTemplate(template_name="tpl-web-v2"))
    await client.expect(subjects.TEMPLATE_DELETED, template_name="tpl-web-v2")
    templates = (await client.ask(subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery(name_prefix="tpl-web-"))).templates
    assert templates == ()
