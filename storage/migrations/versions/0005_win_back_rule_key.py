"""win-back rule key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:57:58.569164
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=40), nullable=True))
    # Win-back rows made before the key keep being the same rule's row.
    op.execute("UPDATE broadcasts SET rule = name WHERE kind = 'winback'")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_broadcasts_rule"), ["rule"])


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_broadcasts_rule"), type_="unique")
        batch_op.drop_column("rule")
