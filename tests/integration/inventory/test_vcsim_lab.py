"""The lab's vcsim builds the topology it is given, serves pyvmomi, and obeys its fault hook."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from lab import vcsim
from lab.config import LabConfig
from lab.runner import Lab
from shared.embedded import free_port


def connect(host: str, port: int, user: str, password: str) -> vim.ServiceInstance:
    return SmartConnect(host=host, port=port, user=user, pwd=password, protocol="http", disableSslCertValidation=True)


def vms(si: vim.ServiceInstance) -> dict[str, vim.VirtualMachine]:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return {vm.name: vm for vm in view.view}
    finally:
        view.DestroyView()


def test_the_lab_part_serves_the_demo_topology_with_guest_ips_and_a_template(tmp_path: Path) -> None:
    config = dataclasses.replace(LabConfig(), lab_dir=tmp_path, vcsim_port=free_port())
    lab = Lab(tmp_path, vcsim.parts(config))
    lab.up()
    try:
        password = vcsim.lab_password(tmp_path / "vcsim")
        si = connect(config.host, config.vcsim_port, vcsim.USERNAME, password)
        found = vms(si)
        assert set(found) == {"tpl-web", "web-1", "web-2"}
        assert found["tpl-web"].config.template is True
        assert found["web-1"].guest.ipAddress == "127.0.10.10"
        assert found["web-2"].guest.ipAddress == "127.0.10.11"
        assert found["web-1"].parent.name == "web"
        Disconnect(si)
    finally:
        lab.down()
    assert "--password" not in (tmp_path / "vcsim" / "argv.json").read_text()


def test_the_fault_hook_answers_a_method_with_a_soap_fault_then_lets_it_through(tmp_path: Path) -> None:
    topology = {
        "datacenters": [
            {
                "name": "DC1",
                "datastores": ["ds1"],
                "clusters": [{"name": "c1", "hosts": 1}],
                "vms": [{"name": "src", "power": "off", "nics": [{}]}],
            }
        ]
    }
    with vcsim.running_vcsim(topology, tmp_path) as server:
        si = connect(server.host, server.port, server.username, server.password)
        source = vms(si)["src"]
        spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), powerOn=False, template=False)
        server.faults.add("CloneVM_Task", fault="InsufficientResourcesFault", times=1)
        with pytest.raises(vim.fault.InsufficientResourcesFault):
            source.CloneVM_Task(folder=source.parent, name="copy", spec=spec)
        source.CloneVM_Task(folder=source.parent, name="copy", spec=spec)
        assert server.faults.calls()["CloneVM_Task"] == 2
        assert server.faults.armed() == []


def test_the_fault_hook_can_fail_a_task_instead_of_the_call(tmp_path: Path) -> None:
    topology = {
        "datacenters": [
            {
                "name": "DC1",
                "datastores": ["ds1"],
                "clusters": [{"name": "c1", "hosts": 1}],
                "vms": [{"name": "src", "power": "off", "nics": [{}]}],
            }
        ]
    }
    with vcsim.running_vcsim(topology, tmp_path) as server:
        si = connect(server.host, server.port, server.username, server.password)
        source = vms(si)["src"]
        server.faults.add("PowerOnVM_Task", fault="InsufficientResourcesFault", message="no memory", task_error=True)
        task = source.PowerOnVM_Task()
        assert task.info.state == "error"
        assert isinstance(task.info.error, vim.fault.InsufficientResourcesFault)
        assert task.info.error.msg == "no memory"
        assert source.runtime.powerState == "poweredOff"
        assert source.PowerOnVM_Task().info.state in ("running", "success")


def test_ending_all_sessions_makes_the_next_call_fail_not_authenticated(tmp_path: Path) -> None:
    topology = {"datacenters": [{"name": "DC1", "datastores": ["ds1"], "hosts": ["esx-1"]}]}
    with vcsim.running_vcsim(topology, tmp_path) as server:
        si = connect(server.host, server.port, server.username, server.password)
        content = si.RetrieveContent()
        assert server.faults.terminate_sessions() >= 1
        with pytest.raises(vim.fault.NotAuthenticated):
            content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
