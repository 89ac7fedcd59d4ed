"""Every vmscale service as N replica processes on loopback (the compose topology, without Docker).

Used by the HA tier (``tests/ha``). Each replica is ``python -m services.<name>`` in a process
group of its own, with its own log, state directory, metrics port and replica id; the replicas of
one service share what compose shares: their database, Redis and the NATS cluster (all given in
``base_env``). Gateways listen on one HTTP port each (``gateway_ports``); the other services
never serve HTTP, they only read ``HTTP_PORT`` to know where the gateway is.

Processes are signalled by PID only: ``kill`` is SIGKILL (a lost machine), ``pause`` / ``resume``
are SIGSTOP / SIGCONT (a process frozen past its lease), ``start`` after ``kill`` is a restart
with the same environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared.embedded import free_port
from shared.subjects import SERVICES

__all__ = ["Replica", "ReplicaSet"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Replica:
    """One service process: ``<service>-<index>``."""

    service: str
    index: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def name(self) -> str:
        """``<service>-<index>``, also its ``REPLICA_ID``."""
        return f"{self.service}-{self.index}"

    @property
    def pid(self) -> int | None:
        """The PID while the process runs (a paused process runs)."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self) -> None:
        """Spawn the process (again, after a kill); output appended to its log."""
        if self.pid is not None:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        if self.service != "gateway":  # a restart may find its old metrics port taken
            self.env["METRICS_PORT"] = str(free_port())
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1} of {self.name} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.service}"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1

    def _signal(self, signum: signal.Signals) -> None:
        pid = self.pid
        if pid is None:
            raise RuntimeError(f"{self.name} is not running")
        os.kill(pid, signum)

    def kill(self) -> None:
        """SIGKILL and reap it (no clean-up of any kind runs)."""
        self._signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but runs nothing."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        self._signal(signal.SIGCONT)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGCONT (in case it is paused) and SIGTERM; SIGKILL after ``grace_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class ReplicaSet:
    """``count`` replicas of each of ``services``.

    ``base_env`` is every replica's environment (NATS, Redis, the lab's settings, …);
    ``databases`` maps a service to its ``DATABASE_URL`` (both replicas of a service use it);
    gateway replica ``i`` listens on ``gateway_ports[i]``.
    """

    state_dir: Path
    base_env: Mapping[str, str]
    databases: Mapping[str, str]
    gateway_ports: Sequence[int]
    count: int = 2
    services: Sequence[str] = SERVICES
    replicas: list[Replica] = field(default_factory=list)

    def __post_init__(self) -> None:
        if "gateway" in self.services and len(self.gateway_ports) < self.count:
            raise ValueError(f"{self.count} gateway replicas need {self.count} ports, got {list(self.gateway_ports)}")
        for index in range(1, self.count + 1):
            for service in self.services:
                self.replicas.append(self._replica(service, index))

    def _replica(self, service: str, index: int) -> Replica:
        name = f"{service}-{index}"
        port = self.gateway_ports[index - 1] if service == "gateway" else self.gateway_ports[0]
        env = {**os.environ, **self.base_env}
        env.update(
            {
                "SERVICE_NAME": service,
                "REPLICA_ID": name,
                "STATE_DIR": str(self.state_dir / name),
                "HTTP_PORT": str(port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if service in self.databases:
            env["DATABASE_URL"] = self.databases[service]
        for original_name in ("VM_AUTOSCALING_BACKEND_PORT", "PORT"):
            env.pop(original_name, None)
        return Replica(service, index, env, self.state_dir / "logs" / f"{name}.log")

    @property
    def urls(self) -> list[str]:
        """The gateways' base URLs."""
        return [f"http://127.0.0.1:{port}" for port in self.gateway_ports[: self.count]]

    def of(self, service: str) -> list[Replica]:
        """The replicas of ``service``."""
        return [replica for replica in self.replicas if replica.service == service]

    def named(self, name: str) -> Replica:
        """The replica called ``name`` (``scaler-2``)."""
        for replica in self.replicas:
            if replica.name == name:
                return replica
        raise KeyError(name)

    def start(self, index: int | None = None) -> None:
        """Start every replica (or those with ``index``), in service order."""
        for replica in self.replicas:
            if index is None or replica.index == index:
                replica.start()

    def dead(self) -> list[str]:
        """Names of the replicas whose process has exited."""
        return [replica.name for replica in self.replicas if replica.process is not None and replica.pid is None]

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop every replica: SIGTERM all at once, then wait (SIGKILL after ``grace_s``)."""
        running = [replica for replica in self.replicas if replica.pid is not None]
        for replica in running:
            with contextlib.suppress(ProcessLookupError):
                assert replica.process is not None
                os.kill(replica.process.pid, signal.SIGCONT)
                os.kill(replica.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for replica in running:
            replica.stop(max(0.1, deadline - time.monotonic()))
