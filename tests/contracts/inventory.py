"""The contract every inventory vCenter adapter keeps (STYLE rule 12).

Subclass ``InventoryContract`` and provide the fixture ``world``: a ``World`` whose vCenter
holds (at least) a template ``tpl-web`` in DC1, a powered-on VM ``web-1`` with guest IP
``127.0.10.11`` on network ``lab-net``, a second network ``backend-net`` in DC1, a hidden
``vCLS-0001`` VM, a VM folder ``prod/web`` and a resource pool ``web`` in cluster ``c1``. It
runs against the in-memory fake (unit tier) and against vcsim (integration tier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from services.inventory.domain import ClonePlan, GuestIdentity, Tag
from services.inventory.ports import InventoryReader, VmProvisioner
from shared.errors import Conflict, NotFound

__all__ = ["InventoryContract", "World"]

IDENTITY = GuestIdentity(
    hostname="web-50", domain="lab", ip="127.0.10.60", prefix_length=24, netmask="255.255.255.0", gateway="127.0.10.1"
)


@dataclass
class World:
    """The adapter under test, as both ports."""

    reader: InventoryReader
    provisioner: VmProvisioner

    def plan(self, name: str, *, template: bool = False, activity: str = "act-c") -> ClonePlan:
        """A clone of ``tpl-web`` into ``prod/web`` / pool ``web`` in DC1."""
        snapshot = self.reader.snapshot()
        source = next(vm for vm in snapshot.vms if vm.name == "tpl-web")
        folder = next(f for f in snapshot.objects.folders if f.path == "prod/web" and f.datacenter == "DC1")
        pool = next(p for p in snapshot.objects.resource_pools if p.name == "web" and p.parent == "c1")
        tag = Tag("web", activity)
        return ClonePlan(
            vm_name=name,
            source=source.moref,
            folder=folder.moref,
            resource_pool=pool.moref,
            template=template,
            annotation=tag.render(),
            tag_text="" if template else tag.render(),
        )

    def network(self, name: str) -> str:
        """The moref of the DC1 network called ``name``."""
        networks = self.reader.snapshot().objects.networks
        return next(n.moref for n in networks if n.name == name and n.datacenter == "DC1")

    def clone(self, name: str, **kwargs: Any) -> str:
        """Clone and wait; the new VM's moref."""
        task = self.provisioner.start_clone(self.plan(name, **kwargs))
        moref = self.provisioner.wait_task(task, 30)
        assert moref is not None
        return moref


class InventoryContract:
    """Reading, cloning, customizing, powering and destroying, as every adapter must."""

    def test_a_ping_answers_and_leaves_the_change_feed_alone(self, world: World) -> None:
        web = next(vm for vm in world.reader.snapshot().vms if vm.name == "web-1")
        world.provisioner.power(web.moref, False, 30)
        assert world.reader.ping() is None
        assert world.reader.ping() is None
        for _ in range(20):
            batch = world.reader.changes(1)
            assert not batch.full  # a ping is no resync: the feed goes on from the snapshot
            if any(vm.moref == web.moref and vm.power_state == "poweredOff" for vm in batch.upserts):
                return
        raise AssertionError("the change made before the pings never came through the feed")

    def test_a_snapshot_lists_vms_and_templates_but_never_system_vms(self, world: World) -> None:
        snapshot = world.reader.snapshot()
        by_name = {vm.name: vm for vm in snapshot.vms}
        assert "vCLS-0001" not in by_name
        assert by_name["tpl-web"].template is True
        web = by_name["web-1"]
        assert (web.template, web.power_state, web.ip) == (False, "poweredOn", "127.0.10.11")
        assert web.nics[0].network == "lab-net"

    def test_the_first_change_batch_is_full_and_later_ones_carry_changes(self, world: World) -> None:
        first = world.reader.changes(1)
        assert first.full and {vm.name for vm in first.upserts} >= {"web-1", "tpl-web"}
        web = next(vm for vm in first.upserts if vm.name == "web-1")
        world.provisioner.power(web.moref, False, 30)
        for _ in range(20):
            batch = world.reader.changes(1)
            changed = [vm for vm in batch.upserts if vm.moref == web.moref]
            if changed:
                assert changed[0].power_state == "poweredOff"
                return
        raise AssertionError("the power change never came through the feed")

    def test_after_a_snapshot_the_feed_carries_only_changes(self, world: World) -> None:
        snapshot = world.reader.snapshot()
        web = next(vm for vm in snapshot.vms if vm.name == "web-1")
        world.provisioner.power(web.moref, False, 30)
        for _ in range(20):
            batch = world.reader.changes(1)
            assert not batch.full
            assert all(vm.moref == web.moref for vm in batch.upserts)
            if batch.upserts:
                assert batch.upserts[0].power_state == "poweredOff"
                return
        raise AssertionError("the power change never came through the feed")

    def test_a_vm_powered_off_and_destroyed_at_once_leaves_the_feed_as_a_removal(self, world: World) -> None:
        web = next(vm for vm in world.reader.snapshot().vms if vm.name == "web-2")
        world.provisioner.power(web.moref, False, 30)
        world.provisioner.destroy(web.moref, 30)
        for _ in range(20):
            batch = world.reader.changes(1)
            assert not batch.full  # the feed itself carries it, no restart
            if web.moref in batch.removed:
                assert web.moref not in {vm.moref for vm in batch.upserts}
                return
        raise AssertionError("the removal never came through the feed")

    def test_find_vms_matches_the_exact_name_only(self, world: World) -> None:
        assert [vm.name for vm in world.reader.find_vms("web-1")] == ["web-1"]
        assert world.reader.find_vms("web-") == []
        assert world.reader.read_vm("vm-does-not-exist") is None

    def test_a_clone_is_born_powered_off_and_tagged(self, world: World) -> None:
        moref = world.clone("web-50")
        vm = world.reader.read_vm(moref)
        assert vm is not None
        assert (vm.name, vm.power_state, vm.template, vm.folder) == ("web-50", "poweredOff", False, "prod/web")
        found = world.reader.find_vms("web-50")
        assert [(f.group, f.activity_id) for f in found] == [("web", "act-c")]

    def test_customize_then_power_on_reports_the_fixed_ip(self, world: World) -> None:
        moref = world.clone("web-50")
        world.provisioner.customize(moref, IDENTITY, 30)
        world.provisioner.power(moref, True, 30)
        world.provisioner.power(moref, True, 30)  # already on: success
        vm = world.reader.read_vm(moref)
        assert vm is not None and vm.ip == "127.0.10.60" and vm.hostname == "web-50"
        assert "127.0.10.60" in vm.nics[0].ipv4
        with pytest.raises(Conflict):
            world.provisioner.customize(moref, IDENTITY, 30)

    def test_destroy_removes_the_vm_and_is_idempotent(self, world: World) -> None:
        moref = world.clone("web-51")
        world.provisioner.power(moref, True, 30)
        world.provisioner.destroy(moref, 30)
        assert world.reader.read_vm(moref) is None
        assert world.reader.find_vms("web-51") == []
        world.provisioner.destroy(moref, 30)

    def test_a_template_clone_is_flagged_a_template(self, world: World) -> None:
        moref = world.clone("tpl-web-2", template=True)
        vm = world.reader.read_vm(moref)
        assert vm is not None and vm.template is True

    def test_an_unknown_task_is_not_found(self, world: World) -> None:
        with pytest.raises(NotFound):
            world.provisioner.wait_task("task-999999", 1)

    def test_the_first_nic_moves_to_the_requested_network_once(self, world: World) -> None:
        moref = world.clone("web-53")
        backend = world.network("backend-net")
        world.provisioner.set_network(moref, backend, 30)
        world.provisioner.set_network(moref, backend, 30)  # already there: success
        world.provisioner.customize(moref, IDENTITY, 30)
        world.provisioner.power(moref, True, 30)
        vm = world.reader.read_vm(moref)
        assert vm is not None and vm.nics[0].network == "backend-net"
        assert "127.0.10.60" in vm.nics[0].ipv4
        with pytest.raises(NotFound):
            world.provisioner.set_network(moref, "network-does-not-exist", 30)

    def test_annotation_carries_the_tag(self, world: World) -> None:
        moref = world.clone("web-52")
        world.provisioner.set_annotation(moref, "notes\n" + Tag("web", "act-x").render(), 30)
        vm = world.reader.read_vm(moref)
        assert vm is not None and (vm.group, vm.activity_id) == ("web", "act-x")
