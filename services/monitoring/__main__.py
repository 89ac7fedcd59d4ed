"""``python -m services.monitoring``: read the settings once and run the service."""

from __future__ import annotations

import asyncio

from services.monitoring.app import create_app
from services.monitoring.settings import MonitoringSettings
from shared.telemetry import configure_logging


def main() -> None:
    """Run the monitoring service until SIGINT or SIGTERM."""
    settings = MonitoringSettings()
    configure_logging("monitoring", settings.log_level, settings.log_format)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
