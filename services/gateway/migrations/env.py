"""Alembic environment of the gateway service (its own tables, its own version table)."""

from services.gateway.adapters.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
