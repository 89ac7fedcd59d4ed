"""The lab VM agent: one small process per lab VM, bound to that VM's own 127.x.y.z.

It serves node-exporter-format metrics whose CPU and memory follow a load level set over HTTP,
and the application's health path on the application port. The end-to-end tests start one
agent per cloned VM with ``agent_part`` and steer it with ``set_load``::

    from lab.agent import agent_part, set_load
    lab = Lab(lab_dir, [agent_part("vm-web-01", "127.0.10.5", config)])
    lab.up()
    set_load("127.0.10.5", cpu=95)
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from lab.config import LabConfig
from lab.runner import Part

__all__ = ["agent_part", "get_state", "set_health", "set_load"]


def _control(address: str, port: int, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    if not address.startswith("127."):
        raise ValueError(f"lab agents live on loopback, not {address}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://{address}:{port}{path}",
        data=data,
        method="GET" if body is None else "PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())
    return result


def set_load(
    address: str, *, cpu: float | None = None, memory: float | None = None, port: int = 9100
) -> dict[str, Any]:
    """Set the CPU and/or memory use (percent) of the agent at ``address``; returns its state."""
    body: dict[str, Any] = {}
    if cpu is not None:
        body["cpu"] = cpu
    if memory is not None:
        body["memory"] = memory
    return _control(address, port, "/control/load", body)


def set_health(address: str, healthy: bool, *, port: int = 9100) -> dict[str, Any]:
    """Make the agent's application health path answer 200 (healthy) or 503."""
    return _control(address, port, "/control/health", {"healthy": healthy})


def get_state(address: str, *, port: int = 9100) -> dict[str, Any]:
    """The agent's current load levels and health."""
    return _control(address, port, "/control", None)


def agent_part(
    name: str,
    address: str,
    config: LabConfig | None = None,
    *,
    metrics_port: int | None = None,
    app_port: int | None = None,
    health_path: str = "/",
    cpu: float = 5.0,
    memory: float = 20.0,
) -> Part:
    """A lab part running the agent of VM ``name`` on ``address`` (ports from ``config``)."""
    config = config or LabConfig()
    metrics = metrics_port or config.agent_port
    app = app_port or config.app_port

    def command(_: object) -> list[str]:
        return [
            sys.executable,
            "-m",
            "lab.agent",
            "serve",
            "--address",
            address,
            "--metrics-port",
            str(metrics),
            "--app-port",
            str(app),
            "--health-path",
            health_path,
            "--hostname",
            name,
            "--cpu",
            str(cpu),
            "--memory",
            str(memory),
        ]

    return Part(
        name=f"agent-{name}",
        command=command,
        host=address,
        ready_port=metrics,
        start_timeout_s=15.0,
    )
