"""What the HA test reads: the API through either gateway, and the real parts behind vmscale's back
(vcsim through pyvmomi, HAProxy through its runtime socket, Prometheus through its HTTP API,
the NATS cluster through the JetStream API, the scaler's lease in Redis)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import nats
import redis
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from lab.agent import set_load
from lab.loadbalancer import HAProxyPaths
from lab.sshd import base_vm_addresses
from lab.system import wait_until
from lab.vcsim import USERNAME, lab_password
from tests.ha.conftest import HaSystem

GROUP = "web"
JOB = "web"
POOL_START, POOL_END = "127.0.21.100", "127.0.21.119"
MIN, MAX = 2, 4
TERMINAL = ("succeeded", "rolled_back", "failed", "cancelled")


def call(system: HaSystem, method: str, path: str, **kwargs: Any) -> Any:
    """One API call through whichever gateway answers (a killed one is skipped); retried on
    connection errors and 5xx until a generous deadline; 4xx fails at once."""
    turn = [0]

    def attempt() -> Any:
        api = system.apis[turn[0] % len(system.apis)]
        turn[0] += 1
        try:
            response = api.http.request(method, path, **kwargs)
        except httpx.HTTPError:
            return None
        if response.status_code >= 500:
            return None
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} → {response.status_code}: {response.text[:1000]}")
        return response.json() if response.content else {}

    return wait_until(attempt, 180, f"{method} {path}", interval=0.5)


def base_vms(system: HaSystem) -> list[tuple[str, str]]:
    """(name, address) of the lab's base VMs."""
    return [(f"web-{index}", address) for index, address in enumerate(base_vm_addresses(system.config), 1)]


def set_up(system: HaSystem) -> None:
    """The group over the lab's template and base VMs, as an operator sets it up through the API."""
    cfg = system.config
    targets = [{"vm_name": name, "address": ip, "port": cfg.agent_port} for name, ip in base_vms(system)]
    call(system, "POST", f"/api/v1/prometheus/jobs/{JOB}/targets", json=targets)
    wait_until(lambda: len(up_targets(system)) == 2, 90, "both base VMs scraped")
    load(system, [ip for _, ip in base_vms(system)], cpu=50)
    pool = {
        "name": "web",
        "network": "127.0.21.0/24",
        "gateway": "127.0.21.1",
        "ranges": [{"start": POOL_START, "end": POOL_END}],
    }
    call(system, "PUT", "/api/v1/ip-pools/web", json=pool)
    spec = {
        "name": GROUP,
        "vm_prefix": GROUP,
        "template": "tpl-web",
        "prometheus_job": JOB,
        "min_size": MIN,
        "max_size": MAX,
        "pool": "web",
        "vip": cfg.host,
        "vip_port": cfg.haproxy_frontend_port,
        "member_port": cfg.app_port,
        "monitoring_port": cfg.agent_port,
        "ip_pool": "web",
        "thresholds": {
            "cpu_high": 70,
            "memory_high": 90,
            "out_for_s": 1,
            "cpu_low": 20,
            "memory_low": 5,
            "in_for_s": 2,
        },
        "scale_out_cooldown_s": 1,
        "scale_in_cooldown_s": 1,
        "drain_timeout_s": 2,
    }
    call(system, "POST", "/api/v1/groups", json=spec)
    call(system, "POST", f"/api/v1/groups/{GROUP}/enable")
    wait_until(lambda: group(system)["alerts_status"] == "provisioned", 90, "alerts provisioned")


def load(system: HaSystem, addresses: list[str], cpu: float, memory: float = 20.0) -> None:
    """Set the load the lab agents at ``addresses`` report."""
    for address in addresses:
        set_load(address, cpu=cpu, memory=memory, port=system.config.agent_port)


def group(system: HaSystem) -> dict[str, Any]:
    """The group's view."""
    return dict(call(system, "GET", f"/api/v1/groups/{GROUP}")["group"])


def instances(system: HaSystem) -> list[dict[str, Any]]:
    """The group's live instances."""
    return list(call(system, "GET", f"/api/v1/groups/{GROUP}/instances")["instances"])


def activities(system: HaSystem) -> list[dict[str, Any]]:
    """The group's activities, newest first."""
    return list(call(system, "GET", "/api/v1/activities", params={"group": GROUP, "limit": 500}))


def decisions(system: HaSystem, **params: Any) -> list[dict[str, Any]]:
    """Every decision of the group, newest first (page by page, each ending where the last did)."""
    found: dict[str, dict[str, Any]] = {}
    until: str | None = None
    while True:
        query = {"group": GROUP, "limit": 1000, **params} | ({"until": until} if until else {})
        page = list(call(system, "GET", "/api/v1/decisions", params=query))
        new = [d for d in page if d["id"] not in found]
        found.update((d["id"], d) for d in new)
        if len(page) < 1000 or not new:
            return sorted(found.values(), key=lambda d: str(d["at"]), reverse=True)
        until = str(page[-1]["at"])


def events(system: HaSystem, subject: str) -> list[dict[str, Any]]:
    """The gateway's recorded events on ``subject``."""
    return list(call(system, "GET", "/api/v1/events", params={"limit": 2000, "subject": subject}))


def activity_ended(system: HaSystem, activity_id: str) -> dict[str, Any] | None:
    """The activity once it has ended."""
    activity = call(system, "GET", f"/api/v1/activities/{activity_id}")
    return activity if activity["status"] in TERMINAL else None


def up_targets(system: HaSystem) -> list[str]:
    """Addresses of the job's targets the real Prometheus reports up."""
    return [t["address"] for t in prometheus_targets(system) if t["health"] == "up"]


def prometheus_targets(system: HaSystem) -> list[dict[str, str]]:
    """The job's active targets straight from Prometheus: address (no port) and health."""
    cfg = system.config
    body = httpx.get(f"http://{cfg.host}:{cfg.prometheus_port}/api/v1/targets", timeout=5, trust_env=False).json()
    return [
        {"address": t["labels"]["instance"].rsplit(":", 1)[0], "health": t["health"]}
        for t in body["data"]["activeTargets"]
        if t["labels"].get("job") == JOB
    ]


def haproxy_members(system: HaSystem) -> list[str]:
    """Addresses of the backend's servers, from HAProxy's runtime socket (``show servers state``)."""
    path = HAProxyPaths(system.config.lab_dir / "haproxy").socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(f"show servers state {GROUP}\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    rows = [line.split() for line in b"".join(chunks).decode().splitlines()[1:] if line and not line.startswith("#")]
    return [row[4] for row in rows if len(row) > 4]


@contextmanager
def vcenter(system: HaSystem) -> Iterator[vim.ServiceInstanceContent]:
    """The lab's vcsim directly (pyvmomi)."""
    cfg = system.config
    service = SmartConnect(
        host=cfg.host, port=cfg.vcsim_port, user=USERNAME, pwd=lab_password(cfg.lab_dir / "vcsim"), protocol="http"
    )
    try:
        yield service.RetrieveContent()
    finally:
        Disconnect(service)


def tagged_vms(system: HaSystem) -> list[str]:
    """Names of vcsim's VMs whose annotation carries our group tag (templates excluded)."""
    with vcenter(system) as content:
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        try:
            return [
                vm.name
                for vm in view.view
                if vm.config is not None
                and not vm.config.template
                and f"vmscale:group={GROUP};" in (vm.config.annotation or "")
            ]
        finally:
            view.Destroy()


def lease_holder(system: HaSystem) -> str | None:
    """The scaler replica holding the group's lease (``<token>|<owner>`` in Redis), or None."""
    client = redis.Redis.from_url(system.redis_url)
    try:
        value = client.get(f"vmscale:{system.prefix}:scaler:lease:{GROUP}")
    finally:
        client.close()
    return value.decode().split("|", 1)[1] if value else None


def stream_leader(system: HaSystem, stream: str) -> str:
    """The server name of the node leading ``stream`` (``$JS.API.STREAM.INFO``'s cluster.leader)."""

    async def ask() -> str:
        nc = await nats.connect(system.nats_url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    reply = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=3)
                    leader = json.loads(reply.data).get("cluster", {}).get("leader")
                    if leader:
                        return str(leader)
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.5)
        finally:
            await nc.close()

    return asyncio.run(ask())
