"""The contract every ``PoolMembers`` implementation keeps (STYLE rule 12).

Subclass ``PoolMembersContract`` and provide the fixtures:

* ``driver``: a ``PoolMembers`` whose ``pool_name`` exists and is empty
* ``pool_name``: that pool
* ``live_backend``: ``(address, port)`` of a server that passes the pool's health check
* ``dead_backend``: ``(address, port)`` where nothing listens

It runs against the in-memory fake (unit tier), real HAProxy and the F5 simulator
(integration tier).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.loadbalancer.ports import PoolMembers
from shared.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from shared.messages import MemberAdmin, MemberHealth, MemberState, PoolMember

__all__ = ["PoolMembersContract", "wait_member"]

Backend = tuple[str, int]


async def wait_member(
    driver: PoolMembers, pool: str, name: str, health: MemberHealth, timeout: float = 10.0
) -> PoolMember:
    """Poll until the member reports ``health``; fail the test after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: PoolMember | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = next((m for m in await driver.members(pool) if m.name == name), None)
        if last is not None and last.health is health:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never reported {health}; last seen {last}")


class PoolMembersContract:
    """Behaviour shared by the fake, HAProxy and F5 drivers."""

    async def test_the_pool_is_listed(self, driver: PoolMembers, pool_name: str) -> None:
        names = [pool.name for pool in await driver.pools()]
        assert pool_name in names

    async def test_virtual_servers_name_their_pool(self, driver: PoolMembers, pool_name: str) -> None:
        servers = await driver.virtual_servers()
        assert any(vs.pool == pool_name and 1 <= vs.port <= 65535 for vs in servers)

    @pytest.mark.parametrize(
        ("operation", "args"),
        [
            ("members", ()),
            ("add", ("vm-1", "127.0.10.201", 8080)),
            ("enable", ("vm-1",)),
            ("disable", ("vm-1",)),
            ("force_offline", ("vm-1",)),
            ("remove", ("vm-1",)),
        ],
        ids=["members", "add", "enable", "disable", "force-offline", "remove"],
    )
    async def test_a_missing_pool_is_a_configuration_error_never_an_empty_pool(
        self, driver: PoolMembers, operation: str, args: tuple[Any, ...]
    ) -> None:
        with pytest.raises(ConfigurationError):
            await getattr(driver, operation)("no-such-pool", *args)

    async def test_a_new_member_is_disabled_with_its_own_port(
        self, driver: PoolMembers, pool_name: str, live_backend: Backend
    ) -> None:
        address, port = live_backend
        added = await driver.add(pool_name, "vm-a", address, port)
        assert (added.name, added.address, added.port) == ("vm-a", address, port)
        assert added.admin is MemberAdmin.DISABLED
        [member] = await driver.members(pool_name)
        assert (member.name, member.address, member.port) == ("vm-a", address, port)
        assert member.admin is MemberAdmin.DISABLED
        assert member.connections == 0

    async def test_adding_the_same_member_twice_is_one_member(
        self, driver: PoolMembers, pool_name: str, live_backend: Backend
    ) -> None:
        address, port = live_backend
        await driver.add(pool_name, "vm-a", address, port)
        await driver.enable(pool_name, "vm-a")
        again = await driver.add(pool_name, "vm-a", address, port)
        assert again.admin is MemberAdmin.ENABLED
        assert [m.name for m in await driver.members(pool_name)] == ["vm-a"]

    async def test_a_name_taken_by_another_address_is_a_conflict(
        self, driver: PoolMembers, pool_name: str, live_backend: Backend
    ) -> None:
        address, port = live_backend
        await driver.add(pool_name, "vm-a", address, port)
        with pytest.raises(Conflict):
            await driver.add(pool_name, "vm-a", address, port + 1)

    @pytest.mark.parametrize(
        ("name", "address", "port"),
        [("bad name", "127.0.10.9", 80), ("vm", "not-an-ip", 80), ("vm", "127.0.10.9", 0)],
        ids=["name", "address", "port"],
    )
    async def test_bad_input_is_refused_and_nothing_is_added(
        self, driver: PoolMembers, pool_name: str, name: str, address: str, port: int
    ) -> None:
        with pytest.raises(InvalidInput):
            await driver.add(pool_name, name, address, port)
        assert await driver.members(pool_name) == []

    async def test_admin_states_round_trip(self, driver: PoolMembers, pool_name: str, live_backend: Backend) -> None:
        address, port = live_backend
        await driver.add(pool_name, "vm-a", address, port)
        for change, admin in [
            (driver.enable, MemberAdmin.ENABLED),
            (driver.disable, MemberAdmin.DISABLED),
            (driver.force_offline, MemberAdmin.OFFLINE),
            (driver.enable, MemberAdmin.ENABLED),
        ]:
            await change(pool_name, "vm-a")
            await change(pool_name, "vm-a")  # idempotent
            [member] = await driver.members(pool_name)
            assert member.admin is admin
        await driver.force_offline(pool_name, "vm-a")
        [member] = await driver.members(pool_name)
        assert member.state is MemberState.MAINTENANCE

    async def test_a_healthy_backend_reports_up_once_enabled(
        self, driver: PoolMembers, pool_name: str, live_backend: Backend
    ) -> None:
        address, port = live_backend
        await driver.add(pool_name, "vm-a", address, port)
        await wait_member(driver, pool_name, "vm-a", MemberHealth.UP)
        await driver.enable(pool_name, "vm-a")
        member = await wait_member(driver, pool_name, "vm-a", MemberHealth.UP)
        assert member.state is MemberState.UP

    async def test_a_dead_backend_reports_down(
        self, driver: PoolMembers, pool_name: str, dead_backend: Backend
    ) -> None:
        address, port = dead_backend
        await driver.add(pool_name, "vm-dead", address, port)
        await driver.enable(pool_name, "vm-dead")
        member = await wait_member(driver, pool_name, "vm-dead", MemberHealth.DOWN)
        assert member.state is MemberState.DOWN

    @pytest.mark.parametrize("operation", ["enable", "disable", "force_offline"])
    async def test_changing_an_unknown_member_is_not_found(
        self, driver: PoolMembers, pool_name: str, operation: str
    ) -> None:
        with pytest.raises(NotFound):
            await getattr(driver, operation)(pool_name, "nobody")

    async def test_remove_deletes_and_a_second_remove_reports_absent(
        self, driver: PoolMembers, pool_name: str, live_backend: Backend, dead_backend: Backend
    ) -> None:
        await driver.add(pool_name, "vm-a", *live_backend)
        await driver.add(pool_name, "vm-b", *dead_backend)
        await driver.enable(pool_name, "vm-a")
        assert await driver.remove(pool_name, "vm-a") is True
        assert [m.name for m in await driver.members(pool_name)] == ["vm-b"]
        assert await driver.remove(pool_name, "vm-a") is False

    async def test_a_removed_name_can_be_added_again_elsewhere(
        self, driver: PoolMembers, pool_name: str, live_backend: Backend, dead_backend: Backend
    ) -> None:
        await driver.add(pool_name, "vm-a", *live_backend)
        await driver.remove(pool_name, "vm-a")
        again = await driver.add(pool_name, "vm-a", *dead_backend)
        assert (again.address, again.port) == dead_backend
