"""The inventory inbox goes: no code of the inventory service ever read or wrote it.

Revision ID: inventory_0004
Revises: inventory_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inventory_0004"
down_revision: str | None = "inventory_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("inventory_inbox")


def downgrade() -> None:
    op.create_table(
        "inventory_inbox",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )
