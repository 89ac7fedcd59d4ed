"""Tables the loadbalancer service owns (and only it reads or writes)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table

from shared.db import UtcDateTime, inbox_table

__all__ = ["inbox", "members", "metadata"]

metadata = MetaData()
inbox = inbox_table("loadbalancer", metadata)

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
