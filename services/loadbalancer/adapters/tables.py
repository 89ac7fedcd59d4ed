"""Tables the loadbalancer service owns (and only it reads or writes)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime
from shared.singleton_sql import leases_table

__all__ = ["leases", "members", "metadata", "results"]

metadata = MetaData()

members = Table(
    "loadbalancer_members",
    metadata,
    Column("pool", String(200), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("address", String(64), nullable=False),
    Column("port", Integer, nullable=False),
    Column("desired", String(16), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
    Column("timeout_s", Float, nullable=False, default=0.0),
    Column("activity_id", String(64)),
    Column("correlation_id", String(64)),
    Column("causation_id", String(64)),
)

results = Table(
    "loadbalancer_results",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("stored_at", UtcDateTime(), nullable=False),
)
"""Result events stored before publishing and deleted once published (``services.loadbalancer.outbox``)."""

leases = leases_table(metadata, "loadbalancer_leases")
"""Singleton leases and claims shared by the replicas (``shared/singleton.py``)."""
