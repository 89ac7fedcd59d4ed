"""The HA topology on loopback: a three-node NATS cluster, PostgreSQL (one database per service),
Redis, the lab, and two replicas of every service (``lab.replicas``), started once per module.

Nothing is shared with the other tiers: the NATS cluster and Redis are this module's own
processes; the databases are fresh and dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from lab.config import LabConfig
from lab.environment import admin_password_file, service_env
from lab.parts import all_parts
from lab.replicas import ReplicaSet
from lab.runner import Lab
from lab.system import ApiClient, admin_api_key, free_lab_config, readiness, wait_until
from shared.embedded import EmbeddedServer, free_port, nats_binary, spawn_logged, start_embedded_redis, wait_port
from shared.subjects import SERVICES
from testkit.nats_cluster import NatsNode, nats_cluster
from testkit.servers import fresh_database

VM_NETWORK = "127.0.21.0/24"
LEASE_TTL_S = 5.0


@dataclass
class HaSystem:
    """What the HA test drives: the lab, the NATS nodes, the replicas, an API client per gateway."""

    config: LabConfig
    nodes: list[NatsNode]
    replicas: ReplicaSet
    redis_url: str
    prefix: str
    apis: list[ApiClient] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        """Every node's client URL as one comma list."""
        return ",".join(node.url for node in self.nodes)

    def restart_node(self, node: NatsNode) -> None:
        """Start a killed node again from its configuration file (same ports, same store)."""
        log = node.config.with_suffix(".log")
        process = spawn_logged([nats_binary(), "-c", str(node.config)], log)
        node.server = EmbeddedServer(node.name, node.url, process, log)
        wait_port("127.0.0.1", node.port, timeout=20.0)

    def ready(self, index: int = 0) -> dict[str, Any] | None:
        """Gateway ``index``'s /readyz body when it says ready."""
        return readiness(self.replicas.urls[index])

    def all_instances_up(self) -> bool:
        """Every gateway ready, each service reported by ``count`` live instances."""
        for index in range(len(self.replicas.urls)):
            body = self.ready(index)
            if body is None:
                return False
            counts = {name: item["instances"] for name, item in body["services"].items()}
            if any(counts.get(name, 0) < self.replicas.count for name in SERVICES if name != "gateway"):
                return False
        return True


async def _wait_jetstream(url: str, timeout: float = 60.0) -> None:
    """Until the cluster has elected its JetStream meta leader."""
    nc = await nats.connect(url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await nc.jetstream().account_info()
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[HaSystem]:
    """The whole HA topology, up and ready (both replicas of every service heartbeating)."""
    began = time.monotonic()
    tmp = tmp_path_factory.mktemp("ha")
    config = free_lab_config(tmp / "lab", vm_network=VM_NETWORK)
    lab = Lab(config.lab_dir, all_parts(config))
    with contextlib.ExitStack() as stack:
        nodes = stack.enter_context(nats_cluster(tmp / "nats", 3))
        redis = start_embedded_redis(tmp / "redis")
        stack.callback(redis.stop)
        databases = {name: stack.enter_context(fresh_database(postgres_url, f"ha_{name}")) for name in SERVICES}
        url = ",".join(node.url for node in nodes)
        asyncio.run(_wait_jetstream(url))
        stack.callback(lab.down)
        lab.up()
        gateway_ports = [free_port(), free_port()]
        env = service_env(config, gateway_url=f"http://127.0.0.1:{gateway_ports[0]}")
        env.update(
            {
                "NATS_URL": url,
                "NATS_REPLICAS": "3",
                "REDIS_URL": redis.url,
                "SUBJECT_PREFIX": "ha",
                "HEARTBEAT_INTERVAL_S": "1",
                "LEASE_TTL_S": str(LEASE_TTL_S),
                "LOG_LEVEL": "INFO",
                "SCALE_RATE_PER_MIN": "600",  # the test asks again while a cooldown holds
            }
        )
        replicas = ReplicaSet(tmp / "services", env, databases, gateway_ports, count=2)
        stack.callback(replicas.stop)
        system = HaSystem(config, nodes, replicas, redis.url, "ha")
        replicas.start(1)  # the first replica of each service migrates its database alone
        up(system, lambda: system.ready(0), "the first replica of every service ready")
        replicas.start(2)
        up(system, system.all_instances_up, "two replicas of every service ready")
        key = admin_api_key(replicas.urls[0], admin_password_file(config), "ha")
        system.apis = [ApiClient(base, key) for base in replicas.urls]
        for api in system.apis:
            stack.callback(api.close)
        print(f"HA system up under {tmp} in {time.monotonic() - began:.0f} s")
        yield system


def up(system: HaSystem, predicate: Callable[[], object], what: str, timeout: float = 180) -> None:
    """Wait for ``predicate``; on timeout fail with the replicas that died and gateway 1's /readyz."""
    try:
        wait_until(predicate, timeout, what)
    except TimeoutError as exc:
        body = httpx.get(f"{system.replicas.urls[0]}/readyz", timeout=5, trust_env=False).text[:3000]
        raise AssertionError(f"{exc}; exited: {system.replicas.dead()}; /readyz: {body}") from None


def node_named(nodes: list[NatsNode], name: str) -> NatsNode:
    """The node whose server name is ``name``."""
    return next(node for node in nodes if node.name == name)


def paths_of(system: HaSystem) -> dict[str, Path]:
    """Where each replica logs (for failure messages)."""
    return {replica.name: replica.log for replica in system.replicas.replicas}
