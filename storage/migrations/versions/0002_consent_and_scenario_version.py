"""consent and scenario version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:16:41.380702
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scenario_version", sa.String(length=16), nullable=True))

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("consent_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("scheduled_touches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), nullable=False, server_default="touch")
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduled_touches", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("consent_at")
        batch_op.drop_column("consent_version")
        batch_op.drop_column("consent")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("scenario_version")
