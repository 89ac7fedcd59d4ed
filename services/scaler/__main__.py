"""``python -m services.scaler``: read the settings once and run the service."""

from __future__ import annotations

import asyncio

from services.scaler.app import create_app
from services.scaler.settings import ScalerSettings
from shared.telemetry import configure_logging


def main() -> None:
    """Run the scaler service until SIGINT or SIGTERM."""
    settings = ScalerSettings()
    configure_logging("scaler", settings.log_level, settings.log_format)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
