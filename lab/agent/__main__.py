"""``python -m lab.agent``: run one lab VM agent, or set a running agent's load.

python -m lab.agent serve --address 127.0.10.5 [--metrics-port 9100] [--app-port 8080]
python -m lab.agent set-load 127.0.10.5 --cpu 95 [--memory 40] [--port 9100]
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from lab.agent import set_load
from lab.agent.metrics import LoadLevels, Machine
from lab.agent.server import AgentServers


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m lab.agent")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run an agent bound to one loopback address")
    serve.add_argument("--address", required=True)
    serve.add_argument("--metrics-port", type=int, default=9100)
    serve.add_argument("--app-port", type=int, default=8080)
    serve.add_argument("--health-path", default="/")
    serve.add_argument("--hostname", default="")
    serve.add_argument("--cpu", type=float, default=5.0)
    serve.add_argument("--memory", type=float, default=20.0)
    load = sub.add_parser("set-load", help="change a running agent's load")
    load.add_argument("address")
    load.add_argument("--port", type=int, default=9100)
    load.add_argument("--cpu", type=float)
    load.add_argument("--memory", type=float)
    args = parser.parse_args(argv)

    if args.command == "set-load":
        print(json.dumps(set_load(args.address, cpu=args.cpu, memory=args.memory, port=args.port)))
        return
    machine = Machine(hostname=args.hostname or args.address, levels=LoadLevels(cpu=args.cpu, memory=args.memory))
    servers = AgentServers(machine, args.address, args.metrics_port, args.app_port, args.health_path)
    servers.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    servers.stop()


if __name__ == "__main__":
    main()
