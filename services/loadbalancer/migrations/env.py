"""Alembic environment of the loadbalancer service (its own tables, its own version table)."""

from services.loadbalancer.adapters.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
