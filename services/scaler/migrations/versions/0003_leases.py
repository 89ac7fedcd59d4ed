"""Singleton leases: one replica at a time runs the reconciliation and the orphan sweep (shared/singleton.py).

Revision ID: scaler_0003
Revises: scaler_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scaler_0003"
down_revision: str | None = "scaler_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scaler_leases",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scaler_leases")
