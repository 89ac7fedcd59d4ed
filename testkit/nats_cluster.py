"""Start nats-server nodes from a generated configuration file: one node, or a JetStream cluster.

The same binary the embedded server uses (``shared.embedded.nats_binary``), every port on
loopback. A cluster's nodes route to each other; JetStream elects a meta leader and places each
stream's replicas on them. ``extra`` is appended to every node's configuration (an
``authorization`` block from ``shared.nats_auth``, for instance).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.embedded import EmbeddedServer, free_port, nats_binary, port_open, spawn_logged, wait_port

__all__ = ["NatsNode", "nats_cluster", "start_nats_node"]


@dataclass
class NatsNode:
    """One nats-server process of a cluster (or alone), with what is needed to restart it."""

    name: str
    port: int
    cluster_port: int
    config: Path
    server: EmbeddedServer

    @property
    def url(self) -> str:
        """The client URL of this node."""
        return f"nats://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL the node (a machine lost, no goodbye to its peers)."""
        if self.server.process.poll() is None:
            self.server.process.kill()
            self.server.process.wait()

    def alive(self) -> bool:
        """True while the process runs."""
        return self.server.process.poll() is None


def _config(name: str, port: int, store: Path, cluster: str, cluster_port: int, routes: list[int], extra: str) -> str:
    lines = [
        f"server_name: {name}",
        f"listen: 127.0.0.1:{port}",
        f'jetstream {{ store_dir: "{store}" }}',
    ]
    if routes:
        route_list = ", ".join(f"nats://127.0.0.1:{route}" for route in routes)
        lines.append(f"cluster {{ name: {cluster}, listen: 127.0.0.1:{cluster_port}, routes: [{route_list}] }}")
    return "\n".join(lines) + "\n" + extra + "\n"


def start_nats_node(
    state_dir: Path,
    name: str,
    *,
    port: int | None = None,
    cluster_port: int | None = None,
    routes: list[int] | None = None,
    extra: str = "",
    cluster: str = "vmscale",
) -> NatsNode:
    """Write ``state_dir/<name>.conf`` and start a node from it; wait until it accepts clients."""
    port = port or free_port()
    cluster_port = cluster_port or free_port()
    store = state_dir / name
    store.mkdir(parents=True, exist_ok=True)
    config = state_dir / f"{name}.conf"
    config.write_text(_config(name, port, store, cluster, cluster_port, routes or [], extra), encoding="utf-8")
    log = state_dir / f"{name}.log"
    process = spawn_logged([nats_binary(), "-c", str(config)], log)
    server = EmbeddedServer(name, f"nats://127.0.0.1:{port}", process, log)
    try:
        wait_port("127.0.0.1", port, timeout=20.0)
    except TimeoutError:
        server.stop()
        raise
    return NatsNode(name, port, cluster_port, config, server)


@contextlib.contextmanager
def nats_cluster(state_dir: Path, size: int = 3, extra: str = "") -> Iterator[list[NatsNode]]:
    """A JetStream cluster of ``size`` nodes on loopback, stopped (and reaped) on exit."""
    ports = [(free_port(), free_port()) for _ in range(size)]
    nodes: list[NatsNode] = []
    try:
        for index, (port, cluster_port) in enumerate(ports):
            routes = [other for i, (_, other) in enumerate(ports) if i != index]
            nodes.append(
                start_nats_node(
                    state_dir, f"n{index + 1}", port=port, cluster_port=cluster_port, routes=routes, extra=extra
                )
            )
        yield nodes
    finally:
        for node in nodes:
            node.server.stop()
        deadline = time.monotonic() + 5
        while any(port_open("127.0.0.1", node.port) for node in nodes) and time.monotonic() < deadline:
            time.sleep(0.05)
