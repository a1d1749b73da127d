"""leads.search: name, username, phone and e-mail case-folded, for the managers' search

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:20:00

SQLite folds only ASCII in ``lower()`` and ``LIKE``, so a search for "анна" missed "Анна",
and five ``lower(column) LIKE`` per lead made the dashboard's search the slowest page. The
service writes the column with the lead from now on (``storage/lead_search.py``); the leads
already there get it here, worked out by the same Python function, in batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.lead_search import backfill

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("search", sa.Text(), server_default="", nullable=False))
    backfill(op.get_bind())


def downgrade() -> None:
    # Not a batch (copy the table, drop the old one) on SQLite: dropping ``leads`` with
    # foreign keys on would cascade to every event. SQLite 3.35+ drops a column in place.
    op.execute("ALTER TABLE leads DROP COLUMN search")
