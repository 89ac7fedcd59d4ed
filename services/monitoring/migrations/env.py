"""Alembic environment of the monitoring service (its own tables, its own version table)."""

from services.monitoring.adapters.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
