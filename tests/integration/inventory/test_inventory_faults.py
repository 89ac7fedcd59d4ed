"""vCenter misbehaving: SOAP faults, a lost session, slowness, bad input, and a killed service."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from lab.vcsim import Vcsim
from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
from services.inventory.adapters.vcenter_watch import VcenterInventory
from services.inventory.app import create_service
from shared import subjects
from shared.errors import VmscaleError
from shared.messages import InventoryStatusQuery, NetworkSpec, VmQuery
from shared.runtime import ServiceRuntime
from tests.integration.inventory.conftest import Client, Running, inventory_settings
from tests.integration.inventory.test_inventory_service import clone

ROOT = Path(__file__).resolve().parents[3]


def vms_named(vcsim: Vcsim, name: str) -> list:
    session = VcenterSession(ConnectionParams(vcsim.host, vcsim.port, vcsim.username, vcsim.password, protocol="http"))
    try:
        return VcenterInventory(session).find_vms(name)
    finally:
        session.close()


async def test_insufficient_resources_is_a_permanent_failure_that_leaves_nothing_behind(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    vcsim.faults.add("CloneVM_Task", fault="InsufficientResourcesFault", message="cluster c1 is full")
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-20", "127.0.10.40"))
    failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-20")
    assert (failed.reason, failed.retryable, failed.operation) == ("insufficient_resources", False, "clone")
    assert "cluster c1 is full" in failed.detail
    assert await asyncio.to_thread(vms_named, vcsim, "web-20") == []
    assert client.seen(subjects.VM_CLONED) == []


async def test_a_clone_task_ending_in_error_is_a_typed_failure_that_leaves_nothing_behind(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    vcsim.faults.add("CloneVM_Task", fault="InsufficientResourcesFault", message="datastore full", task_error=True)
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-22", "127.0.10.42"))
    failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-22")
    assert (failed.reason, failed.retryable, failed.error_kind) == ("insufficient_resources", False, "QuotaExceeded")
    assert "datastore full" in failed.detail
    assert await asyncio.to_thread(vms_named, vcsim, "web-22") == []


async def test_a_power_on_task_ending_in_error_removes_the_clone_it_had_made(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    vcsim.faults.add("PowerOnVM_Task", fault="InsufficientResourcesFault", message="no memory", task_error=True)
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-23", "127.0.10.43"))
    failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-23")
    assert (failed.reason, failed.retryable) == ("insufficient_resources", False)
    assert vcsim.faults.calls()["CloneVM_Task"] >= 1
    assert await asyncio.to_thread(vms_named, vcsim, "web-23") == []
    assert (await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-23"))).vm is None
    assert client.seen(subjects.VM_CLONED) == []


async def test_a_session_lost_mid_way_is_healed_and_the_clone_happens_once(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    vcsim.faults.reset_calls()
    vcsim.faults.add("CustomizeVM_Task", fault="NotAuthenticated", terminate_sessions=True)
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-21", "127.0.10.41"))
    cloned = await client.expect(subjects.VM_CLONED, vm_name="web-21")
    assert cloned.ip == "127.0.10.41"
    calls = vcsim.faults.calls()
    assert calls["CloneVM_Task"] == 1
    assert calls["Login"] >= 1, "the service logged in again"
    assert len(await asyncio.to_thread(vms_named, vcsim, "web-21")) == 1
    for _ in range(50):  # the change feed was rebuilt on the new session and still follows vCenter
        if inventory.service.watcher.status.connected and inventory.service.cache.named("web-21"):
            break
        await asyncio.sleep(0.1)
    assert inventory.service.cache.named("web-21")[0].ip == "127.0.10.41"


async def test_bad_input_is_rejected_before_anything_reaches_vcenter(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    vcsim.faults.reset_calls()
    cases = {
        "bad-v6": clone("bad-v6", "127.0.10.42", network=NetworkSpec(ip="fd00::42", prefix_length=64)),
        "bad-mask": clone(
            "bad-mask", "127.0.10.43", network=NetworkSpec(ip="127.0.10.43", prefix_length=24, netmask="255.0.255.0")
        ),
        "bad_dns_name": clone("bad_dns_name", "127.0.10.44"),
        "bad-gw": clone(
            "bad-gw", "127.0.10.45", network=NetworkSpec(ip="127.0.10.45", prefix_length=24, gateway="127.0.99.1")
        ),
    }
    for command in cases.values():
        await client.bus.publish(subjects.CMD_VM_CLONE, command)
    for name in cases:
        failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name=name)
        assert (failed.reason, failed.retryable) == ("invalid_input", False), name
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-22", "127.0.10.46", template="no-such-template"))
    missing = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-22")
    assert (missing.reason, missing.retryable) == ("not_found", False)
    assert "no-such-template" in missing.detail
    assert "CloneVM_Task" not in vcsim.faults.calls()


async def test_a_duplicate_name_not_ours_fails_and_ours_is_adopted(
    inventory: Running, client: Client, vcsim: Vcsim
) -> None:
    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-1", "127.0.10.47", activity="act-dup"))
    failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-1")
    assert (failed.reason, failed.retryable) == ("duplicate_name", False)
    assert len(await asyncio.to_thread(vms_named, vcsim, "web-1")) == 1

    await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-23", "127.0.10.48", activity="act-9", power_on=False))
    first = await client.expect(subjects.VM_CLONED, vm_name="web-23")
    vcsim.faults.reset_calls()
    again = clone("web-23", "127.0.10.48", activity="act-9", power_on=False)  # a re-publish: new message id
    await client.bus.publish(subjects.CMD_VM_CLONE, again)
    await asyncio.sleep(1.0)
    assert "CloneVM_Task" not in vcsim.faults.calls()
    assert [e.moref for e in client.seen(subjects.VM_CLONED) if e.vm_name == "web-23"] == [first.moref] * len(
        [e for e in client.seen(subjects.VM_CLONED) if e.vm_name == "web-23"]
    )


async def test_a_call_slower_than_the_timeout_is_a_retryable_timeout_failure(
    vcsim: Vcsim, client: Client, nats_url: str, prefix: str, tmp_path: Path, js_cleanup: None
) -> None:
    settings = inventory_settings(vcsim, nats_url, prefix, tmp_path / "state", vcenter_call_timeout_s=1.0)
    runtime = ServiceRuntime("inventory", settings)
    service = create_service(settings, runtime)
    await runtime.start()
    await runtime.bus.broker.start()
    try:
        await asyncio.wait_for(service.watcher.synced.wait(), 20)
        vcsim.faults.add("CloneVM_Task", delay_ms=2500)
        await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-24", "127.0.10.49"))
        failed = await client.expect(subjects.VM_OPERATION_FAILED, vm_name="web-24")
        assert (failed.reason, failed.retryable) == ("timeout", True)
    finally:
        await runtime.bus.broker.stop()
        await runtime.stop()


def start_service_process(vcsim: Vcsim, nats_url: str, prefix: str, state: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VCENTER")},
        "NATS_URL": nats_url,
        "SUBJECT_PREFIX": prefix,
        "STATE_DIR": str(state),
        "METRICS_PORT": "0",
        "VCENTER_HOST": vcsim.host,
        "VCENTER_PORT": str(vcsim.port),
        "VCENTER_PROTOCOL": "http",
        "VCENTER_USERNAME": vcsim.username,
        "VCENTER_PASSWORD": vcsim.password,
        "TASK_TIMEOUT_S": "30",
        "IP_TIMEOUT_S": "10",
        "IP_POLL_S": "0.1",
        "WATCH_WAIT_S": "1",
    }
    log = (state.parent / f"inventory-{len(list(state.parent.glob('inventory-*.log')))}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "services.inventory"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def synced(client: Client, process: subprocess.Popen[bytes]) -> None:
    """Wait until the service process answers, synced with vCenter.

    Its start (interpreter, imports, migrations, cold sync) takes from one to tens of seconds on
    a loaded machine: it must not eat into what the test then waits for.
    """
    for _ in range(600):
        assert process.poll() is None, f"the service exited with {process.returncode}"
        try:
            reply = await client.bus.request(subjects.QUERY_INVENTORY_STATUS, InventoryStatusQuery(), timeout=1)
        except VmscaleError:  # not subscribed yet
            reply = None
        if reply is not None and reply.synced_at is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the service never answered synced")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Make sure the process is gone, however the test ended."""
    if process.poll() is None:
        process.kill()
    process.wait(10)


async def test_a_service_killed_after_the_clone_started_resumes_it_into_one_vm(
    vcsim: Vcsim, client: Client, nats_url: str, prefix: str, tmp_path: Path, js_cleanup: None
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    vcsim.faults.add("CustomizeVM_Task", delay_ms=60_000)  # holds the service right after the clone
    first = start_service_process(vcsim, nats_url, prefix, state)
    try:
        await synced(client, first)
        await client.bus.publish(subjects.CMD_VM_CLONE, clone("web-25", "127.0.10.50"))
        for _ in range(300):
            if vcsim.faults.calls().get("CustomizeVM_Task"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the service never reached the customization")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        stop(first)
    vcsim.faults.clear()
    second = start_service_process(vcsim, nats_url, prefix, state)
    try:
        await synced(client, second)
        cloned = await client.expect(subjects.VM_CLONED, vm_name="web-25", timeout=40)
        assert cloned.ip == "127.0.10.50"
        assert vcsim.faults.calls()["CloneVM_Task"] == 1
        assert len(await asyncio.to_thread(vms_named, vcsim, "web-25")) == 1
        reply = await client.ask(subjects.QUERY_INVENTORY_VM, VmQuery(name="web-25"))
        assert reply.vm is not None and reply.vm.power_state == "poweredOn"
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        finally:
            stop(second)
