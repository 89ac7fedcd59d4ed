"""Member records: what vmscale asked of each pool member.

Revision ID: loadbalancer_0002
Revises: loadbalancer_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "loadbalancer_0002"
down_revision: str | None = "loadbalancer_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loadbalancer_members",
        sa.Column("pool", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("desired", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timeout_s", sa.Float, nullable=False),
        sa.Column("activity_id", sa.String(64)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("causation_id", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("loadbalancer_members")
