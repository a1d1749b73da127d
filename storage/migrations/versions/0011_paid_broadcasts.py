"""paid broadcasts: allow_paid_broadcast, a rate, a Stars cap and what was spent

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03 12:00:00

Chained to 0009 in this branch; the merger re-chains it after the other branches' 0010.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paid", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("paid_rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("paid_cap", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("paid_spent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("stop_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("stop_reason")
        batch_op.drop_column("paid_spent")
        batch_op.drop_column("paid_cap")
        batch_op.drop_column("paid_rate")
        batch_op.drop_column("paid")
