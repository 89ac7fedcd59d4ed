"""The simulated machine behind a lab VM agent: counters that follow a settable load.

CPU seconds accumulate per mode at the rate the current load dictates (``user`` and ``system``
share the busy fraction, ``idle`` gets the rest), so ``rate(node_cpu_seconds_total[...])``
in Prometheus sees exactly the load that was set. Memory, network, disk and load averages are
derived from the same two levels. Everything is rendered in the Prometheus text format with
the metric names and labels of the real node_exporter.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

__all__ = ["LoadLevels", "Machine"]

GIB = 1024**3


@dataclass(frozen=True)
class LoadLevels:
    """CPU and memory use in percent (0 to 100)."""

    cpu: float = 5.0
    memory: float = 20.0

    def __post_init__(self) -> None:
        for name, value in (("cpu", self.cpu), ("memory", self.memory)):
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be within 0..100, got {value}")


@dataclass
class Machine:
    """A machine whose counters integrate the load over wall time."""

    cpus: int = 2
    memory_bytes: int = 4 * GIB
    disk_bytes: int = 40 * GIB
    hostname: str = "lab-vm"
    levels: LoadLevels = field(default_factory=LoadLevels)
    healthy: bool = True
    _cpu: dict[str, float] = field(default_factory=dict)
    _net: float = 0.0
    _disk: float = 0.0
    _last: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed = max(0.0, now - self._last)
        self._last = now
        busy = self.levels.cpu / 100.0
        per_mode = {
            "user": 0.75 * busy,
            "system": 0.20 * busy,
            "iowait": 0.05 * busy,
            "idle": 1.0 - busy,
        }
        for mode, share in per_mode.items():
            self._cpu[mode] = self._cpu.get(mode, 0.0) + share * elapsed
        self._net += elapsed * (1000.0 + 200_000.0 * busy)
        self._disk += elapsed * (4096.0 + 50_000.0 * busy)

    def set_levels(self, levels: LoadLevels) -> None:
        """Change the load; counters up to now keep the old rate."""
        with self._lock:
            self._advance()
            self.levels = levels

    def render(self) -> str:
        """The node-exporter text exposition of the machine right now."""
        with self._lock:
            self._advance()
            cpu = dict(self._cpu)
            net, disk, levels = self._net, self._disk, self.levels
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.")
        for index in range(self.cpus):
            for mode, seconds in sorted(cpu.items()):
                lines.append(f'node_cpu_seconds_total{{cpu="{index}",mode="{mode}"}} {seconds:.6f}')
        available = self.memory_bytes * (1.0 - levels.memory / 100.0)
        for name, value in (
            ("node_memory_MemTotal_bytes", self.memory_bytes),
            ("node_memory_MemAvailable_bytes", available),
            ("node_memory_MemFree_bytes", available * 0.6),
            ("node_memory_Cached_bytes", available * 0.3),
            ("node_memory_Buffers_bytes", available * 0.05),
        ):
            family(name, "gauge", "Memory information field.")
            lines.append(f"{name} {value:.0f}")
        for name, value in (
            ("node_network_receive_bytes_total", net),
            ("node_network_transmit_bytes_total", net * 0.6),
        ):
            family(name, "counter", "Network device statistic.")
            lines.append(f'{name}{{device="eth0"}} {value:.0f}')
            lines.append(f'{name}{{device="lo"}} {value * 0.01:.0f}')
        for name, value in (
            ("node_disk_read_bytes_total", disk),
            ("node_disk_written_bytes_total", disk * 1.5),
        ):
            family(name, "counter", "Disk statistic.")
            lines.append(f'{name}{{device="sda"}} {value:.0f}')
        fs = 'device="/dev/sda1",fstype="ext4",mountpoint="/"'
        family("node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.")
        lines.append(f"node_filesystem_size_bytes{{{fs}}} {self.disk_bytes}")
        family("node_filesystem_avail_bytes", "gauge", "Filesystem space available in bytes.")
        lines.append(f"node_filesystem_avail_bytes{{{fs}}} {self.disk_bytes * 0.55:.0f}")
        load = self.cpus * levels.cpu / 100.0
        for name in ("node_load1", "node_load5", "node_load15"):
            family(name, "gauge", "Load average.")
            lines.append(f"{name} {load:.3f}")
        family("node_uname_info", "gauge", "Labeled system information.")
        lines.append(f'node_uname_info{{nodename="{self.hostname}",sysname="Linux"}} 1')
        return "\n".join(lines) + "\n"
