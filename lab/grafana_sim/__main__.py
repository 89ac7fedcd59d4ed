"""``python -m lab.grafana_sim --port 13000 --token-file F``: run the Grafana simulator."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from lab.grafana_sim.app import create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m lab.grafana_sim")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=13000)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--admin-password-file", type=Path)
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the simulator binds loopback only")
    tokens = frozenset(line.strip() for line in args.token_file.read_text().splitlines() if line.strip())
    password = args.admin_password_file.read_text().strip() if args.admin_password_file else None
    uvicorn.run(create_app(tokens, password), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
