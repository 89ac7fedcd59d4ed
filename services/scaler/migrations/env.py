"""Alembic environment of the scaler service (its own tables, its own version table)."""

from services.scaler.adapters.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
