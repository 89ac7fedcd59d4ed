"""The monitoring inbox goes: no code of the monitoring service ever read or wrote it.

Revision ID: monitoring_0002
Revises: monitoring_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "monitoring_0002"
down_revision: str | None = "monitoring_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("monitoring_inbox")


def downgrade() -> None:
    op.create_table(
        "monitoring_inbox",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )
