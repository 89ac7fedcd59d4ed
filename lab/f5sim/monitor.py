"""Health monitors that really probe members, like a BIG-IP's ``/Common/http`` and ``/Common/tcp``.

``http`` succeeds on a 2xx/3xx answer to ``GET /``; ``tcp`` on an accepted connection. Only
loopback addresses are ever contacted: any other member is marked ``down`` without a probe.
"""

from __future__ import annotations

import asyncio
import ipaddress

from lab.f5sim.model import Member, Store

__all__ = ["probe", "run_monitors"]


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.partition("%")[0]).is_loopback
    except ValueError:
        return False


async def probe(monitor: str, address: str, port: int, timeout: float = 0.5) -> bool:
    """One probe of ``address:port`` with ``monitor`` (``/Common/http`` or ``/Common/tcp``)."""
    if not _loopback(address):
        return False
    host = address.partition("%")[0]
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                if monitor.endswith("tcp"):
                    return True
                writer.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                await writer.drain()
                status = (await reader.readline()).split()
                return len(status) >= 2 and status[1][:1] in (b"2", b"3")
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return False


async def _check(monitor: str, member: Member) -> None:
    member.monitor_state = "up" if await probe(monitor, member.address, member.port) else "down"


async def run_monitors(holder: object, interval: float) -> None:
    """Probe every monitored member each ``interval`` seconds, forever (cancel to stop)."""
    while True:
        store: Store = holder.store  # type: ignore[attr-defined]
        checks = [
            _check(pool.monitor, member)
            for pool in list(store.pools.values())
            if pool.monitor
            for member in list(pool.members.values())
        ]
        if checks:
            await asyncio.gather(*checks)
        await asyncio.sleep(interval)
