"""The reader's compact per-VM rows: partial updates merge, shared parts are shared."""

from __future__ import annotations

from services.inventory.adapters.vcenter_convert import ObjectTables, VmRows, to_vm
from services.inventory.adapters.vcenter_soap import Moref
from services.inventory.cache import InventoryCache
from services.inventory.domain import InventoryObjects

GUEST_NET = [
    {"network": ["lab-net"], "ipAddress": ["127.0.10.11", "fd00::11"], "macAddress": ["00:50:56:00:00:01"]},
    {"network": ["backend-net"], "ipAddress": [], "macAddress": ["00:50:56:00:00:02"], "connected": ["false"]},
]


def tables() -> ObjectTables:
    t = ObjectTables()
    t.put(Moref("Datacenter", "datacenter-1"), {"name": "DC1", "vmFolder": Moref("Folder", "group-v1")})
    t.put(Moref("Folder", "group-v1"), {"name": "vm", "parent": Moref("Datacenter", "datacenter-1")})
    t.put(Moref("HostSystem", "host-1"), {"name": "esx-1", "parent": Moref("Folder", "group-h1")})
    return t


def test_a_partial_update_keeps_the_other_properties_and_drops_unknown_ones() -> None:
    rows = VmRows()
    row = rows.merge(
        None,
        [
            ("name", "web-1"),
            ("runtime.powerState", "poweredOn"),
            ("runtime.host", Moref("HostSystem", "host-1")),
            ("parent", Moref("Folder", "group-v1")),
            ("guest.net", GUEST_NET),
            ("guest.ipAddress", "127.0.10.11"),
            ("config.extraConfig", ["not kept"]),
        ],
    )
    row = rows.merge(row, [("runtime.powerState", "poweredOff")])
    vm = to_vm(Moref("VirtualMachine", "vm-1"), rows.props(row), tables())
    assert vm is not None
    assert (vm.name, vm.power_state, vm.host, vm.datacenter, vm.folder, vm.ip) == (
        "web-1",
        "poweredOff",
        "esx-1",
        "DC1",
        "",
        "127.0.10.11",
    )
    assert [(n.network, n.ipv4, n.ipv6, n.connected) for n in vm.nics] == [
        ("lab-net", ("127.0.10.11",), ("fd00::11",), True),
        ("backend-net", (), (), False),
    ]
    assert "config.extraConfig" not in rows.props(row)


def test_rows_share_morefs_and_the_vm_reuses_the_rows_nics() -> None:
    rows = VmRows()
    one = rows.merge(None, [("name", "a"), ("runtime.host", Moref("HostSystem", "host-1")), ("guest.net", GUEST_NET)])
    two = rows.merge(None, [("name", "b"), ("runtime.host", Moref("HostSystem", "host-1"))])
    host = rows.props(one)["runtime.host"]
    assert host is rows.props(two)["runtime.host"]
    vm = to_vm(Moref("VirtualMachine", "vm-1"), rows.props(one), tables())
    assert vm is not None and vm.nics is rows.props(one)["guest.net"]


def test_the_cache_stamps_revisions_without_changing_the_vm_it_was_given() -> None:
    rows = VmRows()
    row = rows.merge(None, [("name", "web-1"), ("runtime.powerState", "poweredOn")])
    vm = to_vm(Moref("VirtualMachine", "vm-1"), rows.props(row), tables())
    assert vm is not None
    cache = InventoryCache()
    cache.replace([vm], InventoryObjects())
    stamped = cache.get("vm-1")
    assert stamped is not None and (stamped.revision, vm.revision) == (1, 0)
    off = stamped.model_copy(update={"power_state": "poweredOff"})
    assert (stamped.power_state, off.power_state) == ("poweredOn", "poweredOff")
    assert stamped.model_dump(exclude_unset=True)["revision"] == 1


def test_a_datastore_space_change_updates_the_objects_without_rebuilding_every_vm() -> None:
    from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
    from services.inventory.adapters.vcenter_soap import ObjectUpdate
    from services.inventory.adapters.vcenter_watch import VcenterInventory, _Seen

    reader = VcenterInventory(VcenterSession(ConnectionParams("127.0.0.1", 9, "u", "p", protocol="http")))

    def pull(*updates: ObjectUpdate, full: bool = False):  # what one WaitForUpdatesEx answer does
        seen = _Seen()
        for update in updates:
            reader._merge(seen, update)
        return reader._batch(full, seen)

    dc, folder, ds = Moref("Datacenter", "datacenter-1"), Moref("Folder", "group-v1"), Moref("Datastore", "datastore-1")
    first = pull(
        ObjectUpdate("enter", dc, [("name", "assign", "DC1"), ("vmFolder", "assign", folder)]),
        ObjectUpdate("enter", folder, [("name", "assign", "vm"), ("parent", "assign", dc)]),
        ObjectUpdate(
            "enter", ds, [("name", "assign", "ds1"), ("parent", "assign", dc), ("summary.freeSpace", "assign", 9)]
        ),
        ObjectUpdate(
            "enter", Moref("VirtualMachine", "vm-1"), [("name", "assign", "web-1"), ("parent", "assign", folder)]
        ),
        full=True,
    )
    assert first.full and [vm.datacenter for vm in first.upserts] == ["DC1"]
    space = pull(ObjectUpdate("modify", ds, [("summary.freeSpace", "assign", 5)]))
    assert not space.full and space.upserts == () and space.objects is not None
    assert [d.free_space for d in space.objects.datastores] == [5]
    renamed = pull(ObjectUpdate("modify", dc, [("name", "assign", "DC-east")]))
    assert renamed.full and [vm.datacenter for vm in renamed.upserts] == ["DC-east"]
