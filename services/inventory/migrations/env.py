"""Alembic environment of the inventory service (its own tables, its own version table)."""

from services.inventory.adapters.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
