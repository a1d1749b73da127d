"""broadcasts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:57:44.829240
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.JSON(), nullable=True),
        sa.Column("chain", sa.String(length=64), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    with op.batch_alter_table("scheduled_touches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        batch_op.alter_column(
            "kind",
            existing_type=sa.VARCHAR(length=8),
            type_=sa.String(length=16),
            existing_nullable=False,
            existing_server_default=sa.text("'touch'"),
        )
        batch_op.create_index(
            batch_op.f("ix_scheduled_touches_broadcast_id"), ["broadcast_id"], unique=False
        )
        batch_op.create_unique_constraint(
            "uq_scheduled_touches_broadcast_lead", ["broadcast_id", "lead_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_scheduled_touches_broadcast_id_broadcasts"),
            "broadcasts",
            ["broadcast_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduled_touches", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_scheduled_touches_broadcast_id_broadcasts"), type_="foreignkey"
        )
        batch_op.drop_constraint("uq_scheduled_touches_broadcast_lead", type_="unique")
        batch_op.drop_index(batch_op.f("ix_scheduled_touches_broadcast_id"))
        batch_op.alter_column(
            "kind",
            existing_type=sa.String(length=16),
            type_=sa.VARCHAR(length=8),
            existing_nullable=False,
            existing_server_default=sa.text("'touch'"),
        )
        batch_op.drop_column("broadcast_id")

    op.drop_table("broadcasts")
