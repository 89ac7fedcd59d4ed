"""An in-memory vCenter seeded like the integration topology (the parts the tests use)."""

from __future__ import annotations

from services.inventory.domain import InventoryObjects
from shared.messages import FolderInfo, InventoryObject, NicInfo, VmInfo
from testkit.inventory.memory import MemoryVcenter


def seeded_vcenter() -> MemoryVcenter:
    objects = InventoryObjects(
        datacenters=(InventoryObject(moref="datacenter-1", name="DC1"),),
        folders=(
            FolderInfo(moref="group-v1", name="vm", path="", datacenter="DC1"),
            FolderInfo(moref="folder-2", name="web", path="prod/web", datacenter="DC1"),
            FolderInfo(moref="folder-3", name="linux", path="templates/linux", datacenter="DC1"),
        ),
        clusters=(InventoryObject(moref="domain-c1", name="c1", datacenter="DC1"),),
        resource_pools=(
            InventoryObject(moref="resgroup-1", name="Resources", datacenter="DC1", parent="c1"),
            InventoryObject(moref="resgroup-2", name="web", datacenter="DC1", parent="c1"),
        ),
        networks=(
            InventoryObject(moref="network-1", name="lab-net", datacenter="DC1"),
            InventoryObject(moref="network-2", name="backend-net", datacenter="DC1"),
        ),
    )
    world = MemoryVcenter(objects=objects)
    world.add_vm(
        VmInfo(
            name="tpl-web",
            moref="vm-1",
            template=True,
            folder="templates/linux",
            datacenter="DC1",
            cluster="c1",
            nics=(NicInfo(network="lab-net"),),
        )
    )
    for n, ip in ((1, "127.0.10.11"), (2, "127.0.10.12"), (10, "127.0.10.20")):
        world.add_vm(
            VmInfo(
                name=f"web-{n}",
                moref=f"vm-{n + 10}",
                power_state="poweredOn",
                ip=ip,
                folder="prod/web",
                datacenter="DC1",
                cluster="c1",
                resource_pool="web",
                nics=(NicInfo(network="lab-net", ipv4=(ip,)),),
            )
        )
    world.add_vm(VmInfo(name="vCLS-0001", moref="vm-99", power_state="poweredOn"))
    return world
