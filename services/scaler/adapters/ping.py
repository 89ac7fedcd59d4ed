"""``AddressProbe`` by TCP connect: is an address of an IP pool already taken by someone?

Why TCP and not ICMP: an ICMP echo needs a raw socket (root or ``CAP_NET_RAW``, which the
scaler must not hold), and ``ping -c1 -W1`` per address means a subprocess per address plus a
setuid/capability binary in the image. A TCP connect to a port the pool's VMs listen on (SSH,
22, by default) needs no privilege, runs all probes at once in the event loop and is what the
scaler can verify in tests: an address answers when a connection is *accepted* within the
timeout. A refusal does not count: on loopback every 127.x.y.z address refuses at once
(the kernel answers for all of 127.0.0.0/8), so counting refusals would call every address
taken. A firewalled host that drops the SYN looks free to both this probe and ``ping -W1``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from ipaddress import IPv4Address

__all__ = ["TcpAddressProbe"]


class TcpAddressProbe:
    """An address is in use when a TCP connection to ``port`` is accepted within ``timeout_s``."""

    def __init__(self, port: int = 22, timeout_s: float = 1.0) -> None:
        self.port = port
        self.timeout_s = timeout_s

    async def _answers(self, address: IPv4Address) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(str(address), self.port), self.timeout_s)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def in_use(self, addresses: Sequence[IPv4Address]) -> set[IPv4Address]:
        """The addresses that accept a connection (all probed at once, see the module doc)."""
        answers = await asyncio.gather(*(self._answers(a) for a in addresses))
        return {a for a, answered in zip(addresses, answers, strict=True) if answered}
