"""Singleton leases: one replica at a time runs the reconcile loop, and each health or drain wait (shared/singleton.py).

Revision ID: loadbalancer_0005
Revises: loadbalancer_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "loadbalancer_0005"
down_revision: str | None = "loadbalancer_0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loadbalancer_leases",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("loadbalancer_leases")
