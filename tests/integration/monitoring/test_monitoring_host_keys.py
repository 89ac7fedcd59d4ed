"""Host keys against a real OpenSSH server, through the monitoring service on real NATS.

The "VM" is a lab sshd of this test's own on a fresh loopback address (regenerating its host key
must not disturb the session's sshd). Recreating the VM = stopping it, ending the agents
installed under its root, wiping that root and giving the sshd a new host key; the scaler's
scale-in tells monitoring first (``cmd.monitoring.deregister``), which forgets the address's
pinned key. The same VM showing another key without that is refused before authentication.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from lab.config import LabConfig
from lab.runner import Lab, Part, stop_processes_under
from lab.sshd import SshdPaths, sshd_part
from services.monitoring.app import build_service
from services.monitoring.handlers import build_routers
from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.embedded import free_port
from shared.messages import DeregisterTarget, MonitoringFailed, RegisterTarget, TargetDeregistered, TargetRegistered
from tests.contracts.monitoring_lab import MonitoringLab, lab_settings, next_vm_address

pytestmark = pytest.mark.usefixtures("js_cleanup")


@dataclass
class Vm:
    """One lab VM: its own sshd on ``address``, agents installed under ``root``."""

    address: str
    lab: Lab
    part: Part
    root: Path

    @property
    def sshd(self) -> SshdPaths:
        return SshdPaths(self.lab.part_dir(self.part))

    @property
    def host_key_line(self) -> str:
        """``algorithm blob`` of the host key the sshd presents."""
        algorithm, blob = self.sshd.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"{algorithm} {blob}"

    def new_host_key(self, *, recreate: bool) -> None:
        """Restart the sshd with a fresh host key; with ``recreate`` the VM is a new clone
        (nothing installed, nothing running)."""
        self.lab.stop(self.part)
        if recreate:
            stop_processes_under(self.root)
            shutil.rmtree(self.root, ignore_errors=True)
        self.sshd.host_key.unlink()
        self.sshd.host_key.with_suffix(".pub").unlink()
        self.lab.start(self.part)

    def log(self) -> str:
        """The sshd's log so far."""
        return (self.lab.part_dir(self.part) / "log").read_text(errors="replace")

    def logins(self) -> int:
        """Sessions the sshd accepted so far."""
        return self.log().count("Accepted publickey")


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[Vm]:
    config = LabConfig(lab_dir=tmp_path / "vm-lab", host=next_vm_address(), sshd_port=free_port())
    part = sshd_part(config)
    lab = Lab(config.lab_dir, [part])
    lab.up()
    the_vm = Vm(config.host, lab, part, tmp_path / "vm-root")
    try:
        yield the_vm
    finally:
        lab.down()
        stop_processes_under(the_vm.root)


@dataclass
class Service:
    bus: Bus
    known_hosts: Path
    events: list[object] = field(default_factory=list)

    async def send(self, command: RegisterTarget | DeregisterTarget, reply: type) -> object:
        """Publish ``command`` and wait for its reply (or its ``monitoring.failed``)."""
        subject = subjects.CMD_MONITORING_REGISTER if isinstance(command, RegisterTarget) else None
        await self.bus.publish(subject or subjects.CMD_MONITORING_DEREGISTER, command)
        deadline = asyncio.get_running_loop().time() + 60.0
        while True:
            for event in self.events:
                if isinstance(event, reply | MonitoringFailed) and event.causation_id == str(command.message_id):
                    return event
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no reply to {type(command).__name__}; got {self.events}")
            await asyncio.sleep(0.1)

    def pinned(self, vm: Vm) -> list[str]:
        """The known_hosts entries of the VM's sshd, as ``algorithm blob``."""
        pattern = f"[{vm.address}]:{vm.part.ready_port}"
        if not self.known_hosts.exists():
            return []
        return [
            line.split(" ", 1)[1]
            for line in self.known_hosts.read_text().splitlines()
            if line.startswith(pattern + " ")
        ]


@pytest.fixture
async def service(
    nats_url: str, prefix: str, monitoring_lab: MonitoringLab, vm: Vm, tmp_path: Path
) -> AsyncIterator[Service]:
    # vmscale's defaults: the non-root lab login with sudo, trust on first use
    settings = lab_settings(
        monitoring_lab,
        tmp_path / "state",
        ssh_port=vm.part.ready_port,
        ssh_key_file=vm.sshd.user_key,
        agent_prefix=vm.root,
    )
    bus = build_broker(
        nats_url,
        client_name="monitoring-host-keys-test",
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=2, retry_delay_s=0.1),
    )
    async with httpx.AsyncClient(timeout=10) as client:
        monitoring = build_service(settings, client)
        harness = Service(bus, settings.ssh_known_hosts)
        for router in build_routers(bus, monitoring):
            bus.broker.include_router(router)
        listener = NatsRouter()

        @listener.subscriber(bus.topology.subject("monitoring.>"))
        async def record(body: dict, message: NatsMessage) -> None:
            name = bus.topology.unprefixed(message.raw_message.subject)
            harness.events.append(subjects.by_name(name).model.model_validate(body))

        bus.broker.include_router(listener)
        await bus.connect()
        await bus.broker.start()
        try:
            yield harness
        finally:
            await bus.broker.stop()


def register(vm: Vm, job: str, port: int) -> RegisterTarget:
    return RegisterTarget(
        activity_id="act-hk",
        group="web",
        job=job,
        vm_name="web-11",
        address=vm.address,
        port=port,
        install_exporter=True,
        wait_up=False,
    )


async def test_a_vm_recreated_on_the_same_address_after_scale_in_is_installed_with_its_new_key(
    service: Service, vm: Vm
) -> None:
    port = free_port()
    first = await service.send(register(vm, "hk-recreated", port), TargetRegistered)
    assert isinstance(first, TargetRegistered), first
    assert service.pinned(vm) == [vm.host_key_line]
    old_key = vm.host_key_line

    gone = await service.send(
        DeregisterTarget(job="hk-recreated", vm_name="web-11", address=vm.address, port=port), TargetDeregistered
    )
    assert isinstance(gone, TargetDeregistered), gone
    assert service.pinned(vm) == []  # scale-in forgot the address's key
    vm.new_host_key(recreate=True)
    assert vm.host_key_line != old_key

    again = await service.send(register(vm, "hk-recreated", port), TargetRegistered)
    assert isinstance(again, TargetRegistered), again
    assert service.pinned(vm) == [vm.host_key_line]
    # vmscale's default login is not root; the binary is root's all the same (installed via sudo)
    assert f"Accepted publickey for {vm.sshd.sudo_user} " in vm.log()
    binary = vm.root / "usr/local/bin/node_exporter"
    assert binary.exists() and binary.stat().st_uid == 0


async def test_a_key_that_changes_on_a_vm_that_stayed_is_refused_reported_and_nothing_is_installed(
    service: Service, vm: Vm
) -> None:
    port = free_port()
    first = await service.send(register(vm, "hk-stayed", port), TargetRegistered)
    assert isinstance(first, TargetRegistered), first
    pinned = service.pinned(vm)
    vm.new_host_key(recreate=False)
    logins = vm.logins()

    refused = await service.send(register(vm, "hk-stayed", port), TargetRegistered)
    assert isinstance(refused, MonitoringFailed), refused
    assert (refused.operation, refused.error_kind, refused.retryable) == ("register", "host_key_changed", False)
    assert "host key differs" in refused.reason and vm.address in refused.reason
    assert service.pinned(vm) == pinned  # the old pin stands; the new key is not trusted
    assert vm.logins() == logins  # refused before authenticating: no session, nothing installed
