"""The in-memory SSH fake honours the same contract as asyncssh against the lab sshd."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

import pytest

from services.monitoring.ports import HostConnector
from testkit.monitoring.memory import FakeVm, MemoryConnector
from tests.contracts.monitoring_ssh import HostConnectorContract


class TestMemoryConnector(HostConnectorContract):
    port = 2222
    closed_port = 2223

    @pytest.fixture(autouse=True)
    def vm(self) -> FakeVm:
        self.the_vm = FakeVm(self.address, ssh_port=self.port, hostname="web-01")
        return self.the_vm

    @pytest.fixture
    def scratch(self, vm: FakeVm) -> PurePosixPath:
        vm.mkdirs("/srv/scratch")
        return PurePosixPath("/srv/scratch")

    def connector(self, **options: Any) -> HostConnector:
        key = "some-other-key" if options.pop("wrong_key", False) else "lab-key"
        return MemoryConnector([self.the_vm], key=key, port=self.port, **options)

    def forge_recorded_key(self, connector: HostConnector) -> None:
        assert isinstance(connector, MemoryConnector)
        self.the_vm.host_key = f"ssh-ed25519 a-different-key-{uuid.uuid4().hex}"  # new each time
