"""``python -m services.inventory``: read the settings once and run the service."""

from __future__ import annotations

import asyncio

from services.inventory.app import create_app
from services.inventory.settings import InventorySettings
from shared.telemetry import configure_logging


def main() -> None:
    """Run the inventory service until SIGINT or SIGTERM."""
    settings = InventorySettings()
    configure_logging("inventory", settings.log_level, settings.log_format)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
