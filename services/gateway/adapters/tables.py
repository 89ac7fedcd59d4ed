"""Tables the gateway owns: users, API keys, sessions, the audit log and notification deliveries."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, MetaData, String, Table

from shared.db import UtcDateTime

__all__ = ["api_keys", "audit", "metadata", "notification_deliveries", "sessions", "users"]

metadata = MetaData()

users = Table(
    "gateway_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

api_keys = Table(
    "gateway_api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("user_id", Integer, ForeignKey("gateway_users.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

sessions = Table(
    "gateway_sessions",
    metadata,
    Column("token_hash", String(128), primary_key=True),
    Column("user_id", Integer, ForeignKey("gateway_users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

audit = Table(
    "gateway_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(64), nullable=False, index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(255), nullable=False),
    Column("source", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", JSON, nullable=False),
)

notification_deliveries = Table(
    "gateway_notification_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("channel", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("group_name", String(128), nullable=True),
    Column("title", String(500), nullable=False),
    Column("dedup_key", String(255), nullable=False),
    Column("outcome", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("reason", String(1000), nullable=False),
)
