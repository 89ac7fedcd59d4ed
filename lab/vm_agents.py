# mypy: disallow-untyped-calls=False
"""The lab's "guest OS": one lab VM agent per powered-on VM in vcsim.

vcsim simulates the vSphere API, not the guests. This watcher stands in for them: every second
it reads every VM's power state and guest IP from vcsim (one PropertyCollector call) and keeps
exactly one agent (``lab.agent``) running for each powered-on, non-template VM whose guest IP is
a loopback address — so a clone that vmscale powers on with its reserved IP starts answering
metrics and health checks on that IP, and a destroyed VM stops answering.

Run as a lab part (``parts(config)``); SIGTERM stops every agent it started.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from lab.agent import agent_part
from lab.config import LabConfig
from lab.runner import Lab, Part
from lab.vcsim import USERNAME, lab_password

__all__ = ["desired_agents", "parts"]

POLL_S = 1.0


def _is_loopback(ip: str | None) -> bool:
    try:
        return bool(ip) and ipaddress.ip_address(ip or "").is_loopback and ip != "127.0.0.1"
    except ValueError:
        return False


def desired_agents(content: vim.ServiceInstanceContent) -> dict[str, str]:
    """``{vm name: guest IP}`` of every VM that should have a running agent."""
    assert content.viewManager is not None
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[
                        vmodl.query.PropertyCollector.TraversalSpec(
                            name="view", path="view", skip=False, type=vim.view.ContainerView
                        )
                    ],
                )
            ],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(
                    type=vim.VirtualMachine,
                    pathSet=["name", "runtime.powerState", "guest.ipAddress", "config.template"],
                )
            ],
        )
        result = content.propertyCollector.RetrieveContents([spec])
    finally:
        view.Destroy()
    wanted: dict[str, str] = {}
    for obj in result:
        props = {prop.name: prop.val for prop in obj.propSet}
        if props.get("config.template") or props.get("runtime.powerState") != "poweredOn":
            continue
        ip = props.get("guest.ipAddress")
        if isinstance(ip, str) and _is_loopback(ip):
            wanted[str(props["name"])] = str(ip)
    return wanted


class Watcher:
    """Keeps the agents in step with vcsim."""

    def __init__(self, config: LabConfig, url_host: str, port: int, password: str) -> None:
        self.config = config
        self.host = url_host
        self.port = port
        self.password = password
        self.running: dict[str, tuple[str, Part]] = {}
        self.lab = Lab(config.lab_dir / "agents", [])
        self.stopping = False

    def _sync(self, wanted: dict[str, str]) -> None:
        for name, (ip, part) in list(self.running.items()):
            if wanted.get(name) != ip:
                self.lab.stop(part)
                del self.running[name]
                print(f"agent stopped: {name} {ip}", flush=True)
        for name, ip in sorted(wanted.items()):
            if name in self.running:
                continue
            part = agent_part(name, ip, self.config)
            try:
                self.lab.start(part)
            except (RuntimeError, TimeoutError) as exc:
                print(f"agent for {name} on {ip} failed to start: {exc}", file=sys.stderr, flush=True)
                continue
            self.running[name] = (ip, part)
            print(f"agent started: {name} {ip}", flush=True)

    def run(self) -> None:
        """Poll until told to stop, then stop every agent."""
        service = None
        try:
            while not self.stopping:
                try:
                    if service is None:
                        service = SmartConnect(
                            host=self.host, port=self.port, user=USERNAME, pwd=self.password, protocol="http"
                        )
                    self._sync(desired_agents(service.RetrieveContent()))
                except (OSError, vim.fault.NotAuthenticated, vmodl.MethodFault) as exc:
                    print(f"vcsim read failed ({type(exc).__name__}); retrying", file=sys.stderr, flush=True)
                    service = None
                time.sleep(POLL_S)
        finally:
            for _, part in self.running.values():
                self.lab.stop(part)
            if service is not None:
                with contextlib.suppress(Exception):
                    Disconnect(service)


def parts(config: LabConfig) -> list[Part]:
    """The watcher as a lab part (after vcsim in start order)."""
    ready_file = config.lab_dir / "vm-agents" / "ready"

    def prepare(part_dir: Path) -> None:
        ready_file.unlink(missing_ok=True)

    return [
        Part(
            name="vm-agents",
            command=lambda part_dir: [
                sys.executable,
                "-m",
                "lab.vm_agents",
                "--lab-dir",
                str(config.lab_dir),
                "--vcsim-port",
                str(config.vcsim_port),
                "--agent-port",
                str(config.agent_port),
                "--app-port",
                str(config.app_port),
            ],
            ready=ready_file.exists,
            prepare=prepare,
            start_timeout_s=60.0,
            stop_timeout_s=15.0,
        )
    ]


def main() -> None:
    """``python -m lab.vm_agents``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab-dir", type=Path, default=Path(".lab"))
    parser.add_argument("--vcsim-port", type=int, default=LabConfig().vcsim_port)
    parser.add_argument("--agent-port", type=int, default=LabConfig().agent_port)
    parser.add_argument("--app-port", type=int, default=LabConfig().app_port)
    args = parser.parse_args()
    config = LabConfig(
        lab_dir=args.lab_dir, vcsim_port=args.vcsim_port, agent_port=args.agent_port, app_port=args.app_port
    )
    watcher = Watcher(config, config.host, args.vcsim_port, lab_password(config.lab_dir / "vcsim"))

    def stop(signum: int, frame: FrameType | None) -> None:
        watcher.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service = SmartConnect(
        host=config.host,
        port=args.vcsim_port,
        user=USERNAME,
        pwd=lab_password(config.lab_dir / "vcsim"),
        protocol="http",
    )
    watcher._sync(desired_agents(service.RetrieveContent()))
    Disconnect(service)
    (config.lab_dir / "vm-agents" / "ready").write_text("ready\n")
    watcher.run()


if __name__ == "__main__":
    main()
