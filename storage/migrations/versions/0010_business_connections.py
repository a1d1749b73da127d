"""Telegram Business: the bot's connections to business accounts, and which one reaches a lead

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "business_connections",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_username", sa.String(length=64), nullable=False),
        sa.Column("owner_name", sa.String(length=256), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("can_reply", sa.Boolean(), nullable=False),
        sa.Column("rights", sa.JSON(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_connections")),
    )
    op.create_index(op.f("ix_business_connections_owner_id"), "business_connections", ["owner_id"])
    op.create_table(
        "business_chats",
        sa.Column("lead_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("connection_id", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_business_chats_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["business_connections.id"],
            name=op.f("fk_business_chats_connection_id_business_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_business_chats")),
    )
    op.create_index(op.f("ix_business_chats_connection_id"), "business_chats", ["connection_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_business_chats_connection_id"), table_name="business_chats")
    op.drop_table("business_chats")
    op.drop_index(op.f("ix_business_connections_owner_id"), table_name="business_connections")
    op.drop_table("business_connections")
