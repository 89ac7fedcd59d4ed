"""Inventory operations (resumable commands) and template metadata.

Revision ID: inventory_0002
Revises: inventory_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inventory_0002"
down_revision: str | None = "inventory_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_operations",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("vm_name", sa.String(100), nullable=False),
        sa.Column("activity_id", sa.String(100)),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(64)),
        sa.Column("retryable", sa.Boolean, nullable=False),
        sa.Column("task_id", sa.String(200)),
        sa.Column("vm_moref", sa.String(200)),
        sa.Column("result_subject", sa.String(200)),
        sa.Column("result", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inventory_operations_status", "inventory_operations", ["status"])
    op.create_table(
        "inventory_templates",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("moref", sa.String(200)),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source_vm", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inventory_templates")
    op.drop_index("ix_inventory_operations_status", "inventory_operations")
    op.drop_table("inventory_operations")
