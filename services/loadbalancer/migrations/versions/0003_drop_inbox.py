"""The loadbalancer inbox goes: no code of the loadbalancer service ever read or wrote it.

Revision ID: loadbalancer_0003
Revises: loadbalancer_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "loadbalancer_0003"
down_revision: str | None = "loadbalancer_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("loadbalancer_inbox")


def downgrade() -> None:
    op.create_table(
        "loadbalancer_inbox",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )
