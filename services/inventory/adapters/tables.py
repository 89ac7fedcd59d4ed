"""Tables the inventory service owns (and only it reads or writes)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime
from shared.singleton_sql import leases_table

__all__ = ["claims", "leases", "metadata", "operations", "templates"]

metadata = MetaData()

operations = Table(
    "inventory_operations",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("vm_name", String(100), nullable=False),
    Column("activity_id", String(100)),
    Column("command", Text, nullable=False),
    Column("step", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("message_id", String(64)),
    Column("retryable", Boolean, nullable=False, default=False),
    Column("task_id", String(200)),
    Column("vm_moref", String(200)),
    Column("result_subject", String(200)),
    Column("result", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
"""Commands in progress or done, step by step (resumed after a restart)."""

templates = Table(
    "inventory_templates",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("moref", String(200)),
    Column("description", Text, nullable=False, default=""),
    Column("source_vm", String(100)),
    Column("created_at", UtcDateTime(), nullable=False),
)
"""Metadata of templates vmscale created (vCenter has nowhere to keep a description)."""

claims = Table(
    "inventory_operation_claims",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("token", Integer, nullable=False),
)
"""Which replica runs which operation, until when, with which fencing token (``claims.py``)."""

leases = leases_table(metadata, "inventory_leases")
"""Singleton leases and claims shared by the replicas (``shared/singleton.py``)."""
