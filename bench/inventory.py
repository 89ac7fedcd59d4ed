# mypy: disallow-untyped-calls=False
"""Inventory at scale: 10,000 VMs in vcsim (``BENCH_VMS``), measured in one run.

Prints:

* cold full sync: one bulk read (the change feed's first WaitForUpdatesEx answer over two
  ContainerViews, stream-parsed), and
  the baseline of the original's way -- the same properties read one VM at a time -- measured on
  a sample and extrapolated, with the ratio;
* the inventory service (a real process) from start to a full cache;
* "all VMs" from the cache over NATS: one page (1,000 VMs) right after the cold sync, then in
  steady state one page and the whole list (every page), p50 / p99;
* the delay from a change in vcsim (a power-off made by another client) to the cache, and
  its split into vcsim's part and ours. vcsim 0.24.2 (``simulator/property_collector.go``,
  ``WaitForUpdatesEx``) re-collects the whole filter -- every VM's properties -- once per
  object update anywhere in the inventory (the other client's login, its task's state
  changes, the VM's own changes), so its part grows with the inventory (about 0.45-0.6 s per
  update at 10,000 VMs) while ours stays about a millisecond;
* the service's RSS.

Needs NATS (``NATS_URL``, default 127.0.0.1:4222) and the built vcsim (``make setup``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from lab.vcsim import Vcsim, start_vcsim
from services.inventory.adapters.vcenter_convert import VM_PROPERTIES
from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
from services.inventory.adapters.vcenter_watch import VcenterInventory
from shared import subjects
from shared.bus import Topology, build_broker
from shared.messages import InventoryStatusQuery, VmQuery, VmsQuery
from testkit.servers import delete_streams

VMS = int(os.environ.get("BENCH_VMS", "10000"))
REQUESTS = int(os.environ.get("BENCH_N", "30"))
SAMPLE = 200
ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def topology(n: int) -> dict[str, Any]:
    return {
        "datacenters": [
            {
                "name": "DC1",
                "folders": ["bulk/a", "templates"],
                "networks": ["lab-net"],
                "datastores": ["ds1"],
                "clusters": [{"name": "c1", "hosts": 4, "pools": ["web"]}],
                "vms": [
                    {"name": "tpl", "folder": "templates", "template": True, "nics": [{"network": "lab-net"}]},
                    {
                        "name": "bulk-{n}",
                        "count": n,
                        "start": 1,
                        "folder": "bulk/a",
                        "pool": "web",
                        "nics": [{"network": "lab-net", "ip_base": "127.20.0.1"}],
                    },
                ],
            }
        ]
    }


def one_at_a_time(server: Vcsim, sample: int) -> float:
    """The original's way: the same properties, one VM per call; seconds per VM."""
    si = SmartConnect(
        host=server.host,
        port=server.port,
        user=server.username,
        pwd=server.password,
        protocol="http",
        disableSslCertValidation=True,
    )
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        vms = list(view.view)[:sample]
        pc = vmodl.query.PropertyCollector
        started = time.perf_counter()
        for vm in vms:
            spec = pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=vm, skip=False)],
                propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=list(VM_PROPERTIES))],
            )
            content.propertyCollector.RetrieveContents([spec])
        return (time.perf_counter() - started) / len(vms)
    finally:
        Disconnect(si)


def power_off(server: Vcsim, name: str) -> float:
    """Power a VM off as another client; the moment vCenter finished."""
    si = SmartConnect(
        host=server.host,
        port=server.port,
        user=server.username,
        pwd=server.password,
        protocol="http",
        disableSslCertValidation=True,
    )
    try:
        content = si.RetrieveContent()
        index = content.searchIndex
        dc = content.rootFolder.childEntity[0]
        vm = index.FindChild(dc.vmFolder.childEntity[0].childEntity[0], name) or index.FindChild(dc.vmFolder, name)
        task = vm.PowerOffVM_Task()
        while task.info.state not in ("success", "error"):
            time.sleep(0.01)
        return time.perf_counter()
    finally:
        Disconnect(si)


def feed_breakdown(server: Vcsim, reader: VcenterInventory) -> tuple[list[float], list[float]]:
    """Split a change's delay: vCenter's (power-off done -> its feed answer starts) and ours.

    Empty when the reader does not record arrival times (an older build measured for a baseline).
    """
    vcsim_part: list[float] = []
    our_part: list[float] = []
    if not hasattr(reader, "last_received_at"):
        return vcsim_part, our_part
    for name in (f"bulk-{VMS // 100}", f"bulk-{VMS // 2}", f"bulk-{VMS}"):
        seen: dict[str, float] = {}

        def follow(name: str = name, seen: dict[str, float] = seen) -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                batch = reader.changes(1)
                if any(vm.name == name for vm in batch.upserts):
                    seen["returned"], seen["received"] = time.perf_counter(), reader.last_received_at
                    return

        thread = threading.Thread(target=follow)
        thread.start()
        time.sleep(1.2)
        done = power_off(server, name)
        thread.join()
        vcsim_part.append(seen["received"] - done)
        our_part.append(seen["returned"] - seen["received"])
    return vcsim_part, our_part


async def bench(server: Vcsim) -> None:
    session = VcenterSession(
        ConnectionParams(server.host, server.port, server.username, server.password, protocol="http", timeout_s=120)
    )
    reader = VcenterInventory(session)
    reader.about()
    started = time.perf_counter()
    snapshot = await asyncio.to_thread(reader.snapshot)
    bulk_s = time.perf_counter() - started
    vcsim_part, our_part = await asyncio.to_thread(feed_breakdown, server, reader)
    session.close()
    per_vm = await asyncio.to_thread(one_at_a_time, server, SAMPLE)
    baseline_s = per_vm * len(snapshot.vms)
    print(f"VMs in vcsim:                       {len(snapshot.vms)}")
    print(f"cold full sync (bulk read):         {bulk_s:.2f} s   (target <= 2.5 s)")
    print(f"one VM at a time (original's way):  {baseline_s:.1f} s   ({per_vm * 1000:.1f} ms/VM on {SAMPLE} VMs)")
    print(f"ratio one-at-a-time / bulk:         {baseline_s / bulk_s:.0f}x")
    if vcsim_part:
        print(
            f"change feed, power-off to answer:   vcsim {statistics.median(vcsim_part):.2f} s (median), "
            f"then ours (parse + convert) {statistics.median(our_part) * 1000:.0f} ms"
        )

    nats_url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    prefix = "bench" + uuid.uuid4().hex[:8]
    state = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "SUBJECT_PREFIX": prefix,
        "STATE_DIR": str(state),
        "METRICS_PORT": "0",
        "VCENTER_HOST": server.host,
        "VCENTER_PORT": str(server.port),
        "VCENTER_PROTOCOL": "http",
        "VCENTER_USERNAME": server.username,
        "VCENTER_PASSWORD": server.password,
        "VCENTER_CALL_TIMEOUT_S": "120",
        "WATCH_WAIT_S": "1",
        "LOG_LEVEL": "WARNING",
    }
    log = (state / "inventory.log").open("wb")
    bus = build_broker(nats_url, client_name="bench-inventory", topology=Topology(prefix))
    await bus.connect()
    await bus.broker.start()
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
        [sys.executable, "-m", "services.inventory"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        while True:
            try:
                status = await bus.request(subjects.QUERY_INVENTORY_STATUS, InventoryStatusQuery(), timeout=2)
                if status.vm_count >= VMS:
                    break
            except Exception:  # not up yet
                pass
            if process.poll() is not None:
                raise RuntimeError(f"the inventory service exited: {(state / 'inventory.log').read_text()[-2000:]}")
            await asyncio.sleep(0.05)
        print(f"service start to full cache:        {time.perf_counter() - started:.2f} s (incl. Python start-up)")
        # Right after the cold sync: a service that reads the inventory a second time to start
        # its change feed answers slowly now.
        gc.collect()
        gc.freeze()
        early = []
        for _ in range(REQUESTS):
            t0 = time.perf_counter()
            await bus.request(subjects.QUERY_INVENTORY_VMS, VmsQuery(), timeout=10)
            early.append(time.perf_counter() - t0)
            await asyncio.sleep(0.1)
        print(
            f"page right after the cold sync:     p50 {statistics.median(early) * 1000:.0f} ms, "
            f"p99 {_pct(early, 0.99) * 1000:.0f} ms   ({REQUESTS} requests, 0.1 s apart)"
        )
        await asyncio.sleep(8)  # steady state from here on

        # This process holds pyVmomi's type tables and the bulk read above: freeze them, so
        # that its own full garbage collections (walking them) are not timed as answers.
        del snapshot, reader
        gc.collect()
        gc.freeze()
        page_times, all_times = [], []
        for _ in range(REQUESTS):
            t0 = time.perf_counter()
            reply = await bus.request(subjects.QUERY_INVENTORY_VMS, VmsQuery(), timeout=10)
            page_times.append(time.perf_counter() - t0)
            offset, total = reply.next_offset, len(reply.vms)
            while offset is not None:
                reply = await bus.request(subjects.QUERY_INVENTORY_VMS, VmsQuery(offset=offset), timeout=10)
                offset, total = reply.next_offset, total + len(reply.vms)
            all_times.append(time.perf_counter() - t0)
            assert total == VMS, total
        print(
            f"cached page of 1,000 VMs over NATS: p50 {statistics.median(page_times) * 1000:.0f} ms, "
            f"p99 {_pct(page_times, 0.99) * 1000:.0f} ms   (target p99 <= 100 ms)"
        )
        slowest = sorted(range(len(page_times)), key=lambda i: -page_times[i])[:3]
        print(
            "  slowest page requests (request #: ms):", ", ".join(f"#{i}: {page_times[i] * 1000:.0f}" for i in slowest)
        )
        print(
            f"cached all {VMS} VMs (every page):  p50 {statistics.median(all_times) * 1000:.0f} ms, "
            f"p99 {_pct(all_times, 0.99) * 1000:.0f} ms"
        )

        delays = []
        for name in ("bulk-17", f"bulk-{VMS * 4 // 10 + 2}", f"bulk-{VMS * 9 // 10 + 1}"):
            done = await asyncio.to_thread(power_off, server, name)
            while True:
                reply = await bus.request(subjects.QUERY_INVENTORY_VM, VmQuery(name=name), timeout=5)
                if reply.vm is not None and reply.vm.power_state == "poweredOff":
                    delays.append(time.perf_counter() - done)
                    break
                await asyncio.sleep(0.01)
        print(
            f"change in vcsim to cache:           median {statistics.median(delays):.2f} s, "
            f"max {max(delays):.2f} s   (target <= 1 s)"
        )
        rss = psutil.Process(process.pid).memory_info().rss / 2**20
        print(f"inventory service RSS:              {rss:.0f} MB   (target <= 250 MB)")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        await bus.broker.stop()
        await delete_streams(nats_url, prefix)


def main() -> None:
    """Start vcsim with ``BENCH_VMS`` VMs, measure, print."""
    with tempfile.TemporaryDirectory(prefix="bench-vcsim-") as directory:
        started = time.perf_counter()
        server = start_vcsim(topology(VMS), Path(directory), timeout=600)
        print(f"vcsim built {VMS} VMs in            {time.perf_counter() - started:.1f} s")
        try:
            asyncio.run(bench(server))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
