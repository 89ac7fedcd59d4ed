"""The lab's vCenter: govmomi's simulator (``lab/vcsim``, built by ``make setup``).

``parts(config)`` contributes the long-running lab part; ``start_vcsim`` starts a private one
with its own topology for a test or a benchmark. Both listen on loopback only. The fault hook
of the Go program (delays, SOAP faults, ending sessions, call counters) is driven through
``Vcsim.faults``. ``start_vcsim(..., tls=True)`` serves HTTPS with a certificate from a fresh
lab CA (``lab.lab_ca``), so clients are tested with verification on.

Credentials are lab-only: a random password is generated once into ``<lab_dir>/vcsim/password``
and handed to vcsim through its environment (never its argv) and to the inventory service
through ``INVENTORY_VCENTER_PASSWORD_FILE``.
"""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from lab.config import LabConfig
from lab.lab_ca import LabCa, make_lab_ca
from lab.runner import Part

__all__ = [
    "USERNAME",
    "FaultHook",
    "Vcsim",
    "binary",
    "lab_password",
    "lab_topology",
    "parts",
    "running_vcsim",
    "start_vcsim",
]

REPO = Path(__file__).resolve().parent.parent
USERNAME = "vmscale"


def binary() -> Path:
    """The built simulator; ``make setup`` (scripts/setup.d/20-vcsim.sh) builds it."""
    path = REPO / "build" / "vcsim" / "vcsim"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make setup`")
    return path


def lab_password(directory: Path) -> str:
    """The lab's vCenter password, created on first use (file mode 0600)."""
    path = directory / "password"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    path.touch(mode=0o600)
    path.write_text(password, encoding="utf-8")
    return password


def lab_topology(config: LabConfig) -> dict[str, Any]:
    """The demo inventory: one datacenter, a template to scale from, base VMs with guest IPs.

    Base VMs take addresses from the start of ``config.vm_network`` (127.0.10.0/24 by default),
    so the lab's VM agents can bind them on loopback.
    """
    hosts = list(IPv4Network(config.vm_network).hosts())
    return {
        "datacenters": [
            {
                "name": "DC1",
                "folders": ["templates/linux", "vmscale/web"],
                "networks": ["lab-net"],
                "datastores": ["ds1"],
                "clusters": [{"name": "cluster1", "hosts": 2, "pools": ["web"]}],
                "vms": [
                    {
                        "name": "tpl-web",
                        "folder": "templates/linux",
                        "cluster": "cluster1",
                        "template": True,
                        "power": "off",
                        "nics": [{"network": "lab-net"}],
                    },
                    {
                        "name": "web-{n}",
                        "count": 2,
                        "start": 1,
                        "folder": "vmscale/web",
                        "cluster": "cluster1",
                        "pool": "web",
                        "power": "on",
                        "nics": [{"network": "lab-net", "ip_base": str(hosts[9])}],
                    },
                ],
            }
        ]
    }


def _argv(directory: Path, host: str, port: int, tls: LabCa | None = None) -> list[str]:
    argv = [
        str(binary()),
        "-listen",
        f"{host}:{port}",
        "-topology",
        str(directory / "topology.json"),
        "-data",
        str(directory / "data"),
        "-ready-file",
        str(directory / "url"),
    ]
    if tls is not None:
        argv += ["-tls-cert", str(tls.cert_file), "-tls-key", str(tls.key_file)]
    return argv


def parts(config: LabConfig) -> list[Part]:
    """The vcsim lab part on ``config.vcsim_port``."""
    directory = config.lab_dir / "vcsim"
    password = lab_password(directory)

    def prepare(part_dir: Path) -> None:
        (part_dir / "url").unlink(missing_ok=True)
        (part_dir / "topology.json").write_text(json.dumps(lab_topology(config), indent=2))

    return [
        Part(
            name="vcsim",
            command=lambda part_dir: _argv(part_dir, config.host, config.vcsim_port),
            host=config.host,
            ready=lambda: (directory / "url").exists(),
            ready_port=config.vcsim_port,
            prepare=prepare,
            env={"VCSIM_USERNAME": USERNAME, "VCSIM_PASSWORD": password},
        )
    ]


@dataclass(frozen=True)
class FaultHook:
    """Client of the simulator's fault hook (see lab/vcsim/faults.go)."""

    base: str
    ca_file: Path | None = None

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310 - loopback only
            raw = response.read()
        return json.loads(raw) if raw else None

    def add(
        self,
        method: str,
        *,
        fault: str = "",
        times: int = 1,
        delay_ms: int = 0,
        message: str = "",
        terminate_sessions: bool = False,
        task_error: bool = False,
    ) -> None:
        """Arm a rule: the next ``times`` calls of ``method`` are delayed and/or faulted.

        With ``task_error`` a ``*_Task`` method is not refused with a SOAP fault: it returns a
        task that ends in the ``error`` state carrying ``fault`` (how vCenter reports most
        failures).
        """
        self._send(
            "POST",
            "/_vcsim/faults",
            {
                "method": method,
                "fault": fault,
                "times": times,
                "delay_ms": delay_ms,
                "message": message,
                "terminate_sessions": terminate_sessions,
                "task_error": task_error,
            },
        )

    def clear(self) -> None:
        """Disarm every rule."""
        self._send("DELETE", "/_vcsim/faults")

    def armed(self) -> list[dict[str, Any]]:
        """The rules still armed."""
        return list(self._send("GET", "/_vcsim/faults"))

    def calls(self) -> dict[str, int]:
        """SOAP calls seen per method since start (or the last reset)."""
        return dict(self._send("GET", "/_vcsim/calls"))

    def reset_calls(self) -> None:
        """Zero the call counters."""
        self._send("DELETE", "/_vcsim/calls")

    def terminate_sessions(self) -> int:
        """End every open session now; returns how many were ended."""
        return int(self._send("POST", "/_vcsim/sessions/terminate")["terminated"])


@dataclass
class Vcsim:
    """A running simulator this code started."""

    host: str
    port: int
    username: str
    password: str
    process: subprocess.Popen[bytes]
    directory: Path
    tls: LabCa | None = None

    @property
    def protocol(self) -> str:
        """``https`` when started with a lab CA, else ``http``."""
        return "https" if self.tls else "http"

    @property
    def faults(self) -> FaultHook:
        """The fault hook."""
        return FaultHook(f"{self.protocol}://{self.host}:{self.port}", self.tls.ca_file if self.tls else None)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL; always reaps."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_vcsim(
    topology: Mapping[str, Any],
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 60.0,
    tls: bool = False,
) -> Vcsim:
    """Start a simulator serving ``topology`` under ``directory``; wait until it serves.

    With ``tls`` it serves HTTPS with a certificate from a new lab CA (``Vcsim.tls.ca_file``).
    """
    if not host.startswith("127."):
        raise ValueError("vcsim binds loopback only")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "topology.json").write_text(json.dumps(topology))
    (directory / "url").unlink(missing_ok=True)
    password = secrets.token_urlsafe(12)
    ca = make_lab_ca(directory / "tls", host) if tls else None
    log = (directory / "log").open("ab")
    process = subprocess.Popen(
        _argv(directory, host, port or 0, ca),  # 0: vcsim picks a free port (no race with others)
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={"VCSIM_USERNAME": USERNAME, "VCSIM_PASSWORD": password, "PATH": "/usr/bin:/bin"},
    )
    log.close()
    server = Vcsim(host, port or 0, USERNAME, password, process, directory, ca)
    deadline = time.monotonic() + timeout
    while not (directory / "url").exists():
        if process.poll() is not None:
            tail = (directory / "log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"vcsim exited with {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"vcsim not ready within {timeout} s")
        time.sleep(0.05)
    server.port = urllib.parse.urlsplit((directory / "url").read_text().strip()).port or server.port
    return server


@contextmanager
def running_vcsim(topology: Mapping[str, Any], directory: Path) -> Iterator[Vcsim]:
    """``start_vcsim`` as a context manager that always stops the simulator."""
    server = start_vcsim(topology, directory)
    try:
        yield server
    finally:
        server.stop()
