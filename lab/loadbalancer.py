"""Lab parts of the load balancers: real HAProxy (Debian) and the F5 BIG-IP simulator.

HAProxy gets a generated configuration: a frontend on ``LabConfig.haproxy_frontend_port``, one
backend (``LAB_POOL``) with a dynamic balancing algorithm and HTTP health checks on ``/``, and the
runtime API at ``level admin`` on a unix socket in its directory and on the loopback stats port.
vmscale adds the lab VMs (``127.0.10.x:<app_port>``) at runtime and writes them into the marked
block of the configuration, so a reload keeps them.

The F5 simulator (``lab.f5sim``) serves iControl REST on ``LabConfig.f5_port`` (and the standby
unit of an HA pair on the next port) with a generated admin password in its directory.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.config import LabConfig
from lab.runner import Part
from lab.sshd import base_vm_addresses

__all__ = [
    "DYNAMIC_BEGIN",
    "DYNAMIC_END",
    "F5_USER",
    "LAB_POOL",
    "F5Paths",
    "HAProxyPaths",
    "f5sim_part",
    "haproxy_config",
    "haproxy_part",
    "parts",
]

HAPROXY = "/usr/sbin/haproxy"
LAB_POOL = "web"
"""The pool (HAProxy backend, F5 pool) the lab's scaling group uses."""
DYNAMIC_BEGIN = "# vmscale:dynamic-servers:begin"
DYNAMIC_END = "# vmscale:dynamic-servers:end"
F5_USER = "admin"
LAB_CHECK = "check inter 500 rise 1 fall 2"
"""Health-check keywords vmscale gives the servers it adds in the lab (compressed timings)."""


@dataclass(frozen=True)
class HAProxyPaths:
    """Where the lab's HAProxy keeps its configuration and runtime socket."""

    directory: Path

    @property
    def config(self) -> Path:
        """The configuration file (vmscale rewrites its dynamic-server blocks)."""
        return self.directory / "haproxy.cfg"

    @property
    def socket(self) -> Path:
        """The runtime API unix socket (``level admin``)."""
        return self.directory / "admin.sock"


@dataclass(frozen=True)
class F5Paths:
    """Where the F5 simulator keeps its generated password."""

    directory: Path

    @property
    def password_file(self) -> Path:
        """The admin password (generated once, never committed)."""
        return self.directory / "password"


def _seed_members(config: LabConfig) -> tuple[tuple[str, str, int], ...]:
    """The lab's base VMs, already in the pool before vmscale manages it."""
    return tuple(
        (f"web-{index}", address, config.app_port) for index, address in enumerate(base_vm_addresses(config), 1)
    )


def haproxy_config(
    socket: Path,
    *,
    frontend_port: int,
    stats_port: int | None = None,
    pools: tuple[str, ...] = (LAB_POOL,),
    host: str = "127.0.0.1",
    seed_servers: tuple[tuple[str, str, int], ...] = (),
) -> str:
    """A HAProxy configuration: one frontend routing to the first pool, one backend per pool.

    ``seed_servers`` (name, address, port) are static servers of the first pool: the VMs the
    pool already served before vmscale (the lab's base VMs).
    """
    if not host.startswith("127."):
        raise ValueError("the lab HAProxy binds loopback only")
    lines = [
        "global",
        f"    stats socket {socket} mode 600 level admin",
    ]
    if stats_port:
        lines.append(f"    stats socket ipv4@{host}:{stats_port} level admin")
    lines += [
        "    stats timeout 30s",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "",
        "frontend lab_frontend",
        f"    bind {host}:{frontend_port}",
        f"    default_backend {pools[0]}",
    ]
    for pool in pools:
        lines += [
            "",
            f"backend {pool}",
            "    balance roundrobin",
            "    option httpchk GET /",
            "    http-check expect status 200",
            *(
                f"    server {name} {address}:{port} check inter 500 rise 1 fall 2"
                for name, address, port in (seed_servers if pool == pools[0] else ())
            ),
            f"    {DYNAMIC_BEGIN}",
            f"    {DYNAMIC_END}",
        ]
    return "\n".join(lines) + "\n"


def haproxy_part(
    config: LabConfig, pools: tuple[str, ...] = (LAB_POOL,), seed: tuple[tuple[str, str, int], ...] = ()
) -> Part:
    """Debian's HAProxy in master-worker mode (``SIGUSR2`` to the master reloads)."""

    def prepare(directory: Path) -> None:
        paths = HAProxyPaths(directory)
        if not paths.config.exists():  # keep members written by vmscale across lab restarts
            paths.config.write_text(
                haproxy_config(
                    paths.socket,
                    frontend_port=config.haproxy_frontend_port,
                    stats_port=config.haproxy_stats_port,
                    pools=pools,
                    host=config.host,
                    seed_servers=seed,
                )
            )

    return Part(
        name="haproxy",
        command=lambda directory: [HAPROXY, "-W", "-db", "-f", str(HAProxyPaths(directory).config)],
        host=config.host,
        ready_port=config.haproxy_frontend_port,
        prepare=prepare,
    )


def f5sim_part(config: LabConfig, seed: tuple[tuple[str, str, int], ...] = ()) -> Part:
    """The F5 BIG-IP iControl REST simulator: an active unit and its standby peer."""

    def prepare(directory: Path) -> None:
        paths = F5Paths(directory)
        if not paths.password_file.exists():
            paths.password_file.write_text(secrets.token_urlsafe(18))
            paths.password_file.chmod(0o600)

    def command(directory: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "lab.f5sim",
            "--host",
            config.host,
            "--port",
            str(config.f5_port),
            "--standby-port",
            str(config.f5_port + 1),
            "--user",
            F5_USER,
            "--password-file",
            str(F5Paths(directory).password_file),
            "--pool",
            LAB_POOL,
            "--monitor-interval",
            "1",
            "--virtual-port",
            "80",  # the VIP's port: a configuration value on the simulated device, never bound
            *(arg for name, address, port in seed for arg in ("--member", f"{LAB_POOL}={name}:{address}:{port}")),
        ]

    return Part(
        name="f5sim",
        command=command,
        host=config.host,
        ready_port=config.f5_port,
        prepare=prepare,
        cwd=Path(__file__).resolve().parent.parent,
    )


def parts(config: LabConfig) -> list[Part]:
    """The load balancer parts of the lab, their pool already serving the base VMs."""
    seed = _seed_members(config)
    return [haproxy_part(config, seed=seed), f5sim_part(config, seed=seed)]
