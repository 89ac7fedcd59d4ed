"""The scaler's tables: groups, instances, IP pools and leases, activities, decisions, alerts, outbox.

Revision ID: scaler_0002
Revises: scaler_0001
Create Date: 2026-11-26 13:39:53.483181
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scaler_0002"
down_revision: str | None = "scaler_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scaler_activities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scaler_activities", schema=None) as batch_op:
        batch_op.create_index("ix_scaler_activities_group_created", ["group_name", "created_at"], unique=False)
        batch_op.create_index(
            "uq_scaler_activities_one_active",
            ["group_name"],
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.create_table(
        "scaler_alerts",
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "fingerprint"),
    )
    op.create_table(
        "scaler_decisions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scaler_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_scaler_decisions_group_at", ["group_name", "at"], unique=False)

    op.create_table(
        "scaler_groups",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "scaler_instances",
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.Column("vm_name", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "vm_name"),
    )
    op.create_table(
        "scaler_ip_leases",
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=15), nullable=False),
        sa.Column("address_int", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pool", "address"),
    )
    op.create_table(
        "scaler_ip_pools",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "scaler_outbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scaler_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_scaler_outbox_pending", ["published_at", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scaler_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_scaler_outbox_pending")

    op.drop_table("scaler_outbox")
    op.drop_table("scaler_ip_pools")
    op.drop_table("scaler_ip_leases")
    op.drop_table("scaler_instances")
    op.drop_table("scaler_groups")
    with op.batch_alter_table("scaler_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_scaler_decisions_group_at")

    op.drop_table("scaler_decisions")
    op.drop_table("scaler_alerts")
    with op.batch_alter_table("scaler_activities", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_scaler_activities_one_active", postgresql_where=sa.text("active"), sqlite_where=sa.text("active")
        )
        batch_op.drop_index("ix_scaler_activities_group_created")

    op.drop_table("scaler_activities")
