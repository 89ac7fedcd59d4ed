"""Claims on operations: one replica runs each (services/inventory/claims.py).

Revision ID: inventory_0003
Revises: inventory_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inventory_0003"
down_revision: str | None = "inventory_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_operation_claims",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inventory_operation_claims")
