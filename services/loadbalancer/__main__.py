"""``python -m services.loadbalancer``: read the settings once and run the service."""

from __future__ import annotations

import asyncio

from services.loadbalancer.app import create_app
from services.loadbalancer.settings import LoadbalancerSettings
from shared.telemetry import configure_logging


def main() -> None:
    """Run the loadbalancer service until SIGINT or SIGTERM."""
    settings = LoadbalancerSettings()
    configure_logging("loadbalancer", settings.log_level, settings.log_format)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
