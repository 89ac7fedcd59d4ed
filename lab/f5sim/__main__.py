"""``python -m lab.f5sim``: serve the simulator (an active unit, optionally its standby peer).

python -m lab.f5sim --port 18443 [--standby-port 18444] --user admin --password-file FILE
                    [--pool web ...] [--monitor /Common/http] [--monitor-interval 1]
                    [--virtual-port 80] [--token-timeout 1200]
                    [--member web=web-1:127.0.10.10:8080 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from pathlib import Path

import uvicorn

from lab.f5sim.app import Device, Simulator, create_app
from lab.f5sim.auth import TokenStore
from lab.f5sim.model import Store


def build(args: argparse.Namespace) -> Simulator:
    """The simulator described by the command line, with its seed pools and virtual servers."""
    password = Path(args.password_file).read_text().strip()
    devices = [Device("bigip1", args.port, True, TokenStore({args.user: password}, args.token_timeout))]
    if args.standby_port:
        devices.append(
            Device("bigip2", args.standby_port, False, TokenStore({args.user: password}, args.token_timeout))
        )
    store = Store()
    for pool in args.pool:
        store.create_pool(pool, monitor=args.monitor)
        if args.virtual_port:
            store.create_virtual(
                {"name": f"{pool}_vs", "destination": f"/Common/{args.host}:{args.virtual_port}", "pool": pool}
            )
    for seed in args.member:
        pool_name, _, member = seed.partition("=")
        node, address, port = member.split(":")
        store.add_member(store.pool(pool_name), {"name": f"{node}:{port}", "address": address})
    return Simulator(devices, store, monitor_interval=args.monitor_interval)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m lab.f5sim")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--standby-port", type=int, default=0)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--pool", action="append", default=[])
    parser.add_argument("--monitor", default="/Common/http")
    parser.add_argument("--monitor-interval", type=float, default=5.0)
    parser.add_argument("--virtual-port", type=int, default=0)
    parser.add_argument("--token-timeout", type=int, default=1200)
    parser.add_argument(
        "--member", action="append", default=[], help="seed member POOL=NODE:ADDRESS:PORT (the pool's existing VMs)"
    )
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the simulator binds loopback only")
    sim = build(args)
    sockets = []
    for port in sim.devices:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited: no 40 ms Nagle stalls
        sock.bind((args.host, port))
        sockets.append(sock)
    config = uvicorn.Config(create_app(sim), log_level="warning", access_log=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=sockets))


if __name__ == "__main__":
    main()
