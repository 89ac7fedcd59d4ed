"""The trace context of each outbox entry, so a message published later continues its trace.

Revision ID: scaler_0004
Revises: scaler_0003 (0003_leases.py)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scaler_0004"
down_revision: str | None = "scaler_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scaler_outbox", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("scaler_outbox", "trace_context")
