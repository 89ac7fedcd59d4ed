"""The lab runs one VM agent per powered-on vcsim VM with a loopback guest IP, and no more."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from lab import vcsim, vm_agents
from lab.config import LabConfig
from lab.runner import Lab
from shared.embedded import free_port


def wait_until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def answers(ip: str, port: int) -> bool:
    try:
        return httpx.get(f"http://{ip}:{port}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Lab, LabConfig]]:
    config = LabConfig(lab_dir=tmp_path / "lab", vcsim_port=free_port(), agent_port=free_port(), app_port=free_port())
    lab = Lab(config.lab_dir, vcsim.parts(config) + vm_agents.parts(config))
    lab.up()
    try:
        yield lab, config
    finally:
        lab.down()


def test_base_vms_get_agents_and_a_powered_off_vm_loses_its_agent(lab: tuple[Lab, LabConfig]) -> None:
    runner, config = lab
    wait_until(lambda: answers("127.0.10.10", config.agent_port) and answers("127.0.10.11", config.agent_port))
    pids = {path.parent.name: int(path.read_text()) for path in (config.lab_dir / "agents").glob("*/pid")}
    assert set(pids) == {"agent-web-1", "agent-web-2"}

    service = SmartConnect(
        host="127.0.0.1",
        port=config.vcsim_port,
        user=vcsim.USERNAME,
        pwd=vcsim.lab_password(config.lab_dir / "vcsim"),
        protocol="http",
    )
    try:
        content = service.RetrieveContent()
        vm = content.searchIndex.FindByInventoryPath("DC1/vm/vmscale/web/web-2")
        assert isinstance(vm, vim.VirtualMachine)
        WaitForTask(vm.PowerOffVM_Task())
    finally:
        Disconnect(service)
    wait_until(lambda: not answers("127.0.10.11", config.agent_port))
    assert answers("127.0.10.10", config.agent_port)

    runner.down()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
