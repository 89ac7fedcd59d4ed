"""Results stored before they are published, so a crash after a failed publish loses none.

Revision ID: loadbalancer_0004
Revises: loadbalancer_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "loadbalancer_0004"
down_revision: str | None = "loadbalancer_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loadbalancer_results",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False, unique=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("loadbalancer_results")
