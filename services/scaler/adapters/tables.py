"""Tables the scaler service owns (and only it reads or writes).

Settings and saga state are stored as JSON documents of the domain models (the models are the
schema; ``schema_version`` inside the JSON allows upgrades), with the columns that queries
filter or lock on beside them. At most one active activity per group is also enforced by a
partial unique index, so even a bug elsewhere cannot start two.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, MetaData, String, Table, Text, text

from shared.db import UtcDateTime, inbox_table
from shared.singleton_sql import leases_table

__all__ = [
    "activities",
    "alerts",
    "decisions",
    "groups",
    "inbox",
    "instances",
    "ip_leases",
    "ip_pools",
    "leases",
    "metadata",
    "outbox",
]

metadata = MetaData()
inbox = inbox_table("scaler", metadata)

groups = Table(
    "scaler_groups",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("spec", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

instances = Table(
    "scaler_instances",
    metadata,
    Column("group_name", String(64), primary_key=True),
    Column("vm_name", String(80), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("data", Text, nullable=False),
)

ip_pools = Table(
    "scaler_ip_pools",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("spec", Text, nullable=False),
)

ip_leases = Table(
    "scaler_ip_leases",
    metadata,
    Column("pool", String(64), primary_key=True),
    Column("address", String(15), primary_key=True),
    Column("address_int", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", Text, nullable=False),
)

activities = Table(
    "scaler_activities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("group_name", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_scaler_activities_group_created", "group_name", "created_at"),
    Index(
        "uq_scaler_activities_one_active",
        "group_name",
        unique=True,
        postgresql_where=text("active"),
        sqlite_where=text("active"),
    ),
)

decisions = Table(
    "scaler_decisions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("group_name", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_scaler_decisions_group_at", "group_name", "at"),
)

alerts = Table(
    "scaler_alerts",
    metadata,
    Column("group_name", String(64), primary_key=True),
    Column("fingerprint", String(128), primary_key=True),
    Column("resolved", Boolean, nullable=False),
    Column("data", Text, nullable=False),
)

outbox = Table(
    "scaler_outbox",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
    Column("trace_context", Text, nullable=True),
    Index("ix_scaler_outbox_pending", "published_at", "seq"),
)

leases = leases_table(metadata, "scaler_leases")
"""Singleton leases of the reconciliation and the orphan sweep (``shared/singleton.py``)."""
