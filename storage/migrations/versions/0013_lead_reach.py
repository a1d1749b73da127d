"""lead_reach: what each lead has reached, kept by a trigger on events; events by lead and time

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02 18:00:00

Chained to 0009 in this branch; the merger re-chains it after the other new revisions.

``lead_reach`` holds one row per lead with a string of *marks*: ``t:<type>`` for every event
type the lead has, ``s:<step>`` for every step it has an event at, and ``x:<type>[:<tier>]``
for offers shown / clicked and orders paid (with the payload's tier, if any), each once, in
the order first reached, between ``|`` (``|t:started|s:hello|t:step_sent|…|``). The funnel
report groups leads by it instead of scanning the event log (``storage/reach.py``).

A trigger on ``events`` keeps it in the same transaction as every insert, whichever code
inserts (the hot path's one Core INSERT, ORM flushes, bulk SQL): the bot runs no extra
statement for it. Events are append-only (nothing updates their type, step or tier, and they
go only with their lead), so an insert trigger is enough. The existing log is folded in here.

**SQLite drops a table's triggers with the table**: a later migration that rebuilds ``events``
(``batch_alter_table``) must create ``tr_events_lead_reach`` again
(``tests/reports/test_reach.py`` fails without it).

Also an index on ``events (lead_id, created_at)``: "no event since …" (audiences'
``--idle-days``, win-back) becomes one index probe per lead instead of a walk through each
lead's events.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# EventType values as of this revision (bot/vocabulary.py): the events whose tier is marked.
# storage/reach.py TIERED must stay equal (tests/reports/test_reach.py checks it).
TIERED = ("offer_shown", "offer_clicked", "order_paid")
_TIERED_SQL = ", ".join(f"'{t}'" for t in TIERED)

# SQLite: a trigger body cannot declare variables, so each mark is spelled out where used.
_T = "'t:' || NEW.type"
_S = "'s:' || NEW.step"
_X = (
    "'x:' || NEW.type || COALESCE(':' || CASE WHEN json_valid(NEW.payload)"
    " THEN json_extract(NEW.payload, '$.tier') END, '')"
)


def _missing(mark: str) -> str:
    return f"instr(marks, '|' || {mark} || '|') = 0"


SQLITE_TRIGGER = f"""
CREATE TRIGGER tr_events_lead_reach AFTER INSERT ON events FOR EACH ROW
BEGIN
    INSERT INTO lead_reach (lead_id, marks) VALUES (NEW.lead_id, '|')
        ON CONFLICT (lead_id) DO NOTHING;
    UPDATE lead_reach SET marks = marks
        || CASE WHEN {_missing(_T)} THEN {_T} || '|' ELSE '' END
        || CASE WHEN NEW.step IS NOT NULL AND {_missing(_S)} THEN {_S} || '|' ELSE '' END
        || CASE WHEN NEW.type IN ({_TIERED_SQL}) AND {_missing(_X)} THEN {_X} || '|' ELSE '' END
    WHERE lead_id = NEW.lead_id AND (
        {_missing(_T)}
        OR (NEW.step IS NOT NULL AND {_missing(_S)})
        OR (NEW.type IN ({_TIERED_SQL}) AND {_missing(_X)})
    );
END
"""

POSTGRES_FUNCTION = f"""
CREATE FUNCTION lead_reach_mark() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := '|t:' || NEW.type || '|';
    s text := CASE WHEN NEW.step IS NOT NULL THEN '|s:' || NEW.step || '|' END;
    x text := CASE WHEN NEW.type IN ({_TIERED_SQL})
        THEN '|x:' || NEW.type || COALESCE(':' || (NEW.payload ->> 'tier'), '') || '|' END;
BEGIN
    INSERT INTO lead_reach (lead_id, marks) VALUES (NEW.lead_id, '|')
        ON CONFLICT (lead_id) DO NOTHING;
    UPDATE lead_reach SET marks = marks
        || CASE WHEN strpos(marks, t) = 0 THEN substr(t, 2) ELSE '' END
        || CASE WHEN s IS NOT NULL AND strpos(marks, s) = 0 THEN substr(s, 2) ELSE '' END
        || CASE WHEN x IS NOT NULL AND strpos(marks, x) = 0 THEN substr(x, 2) ELSE '' END
    WHERE lead_id = NEW.lead_id AND (
        strpos(marks, t) = 0
        OR (s IS NOT NULL AND strpos(marks, s) = 0)
        OR (x IS NOT NULL AND strpos(marks, x) = 0)
    );
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = (
    "CREATE TRIGGER tr_events_lead_reach AFTER INSERT ON events"
    " FOR EACH ROW EXECUTE FUNCTION lead_reach_mark()"
)


def _backfill(sqlite: bool) -> str:
    """Every lead's marks from its events, ordered as the trigger would have appended them
    (by first event; type, then step, then tier within an event)."""
    tier = (
        "CASE WHEN json_valid(payload) THEN json_extract(payload, '$.tier') END"
        if sqlite
        else "payload ->> 'tier'"
    )
    ord = "CAST(id AS BIGINT) * 4"
    marks = f"""
        SELECT lead_id, mark, MIN(ord) AS ord FROM (
            SELECT lead_id, 't:' || type AS mark, {ord} AS ord FROM events
            UNION ALL
            SELECT lead_id, 's:' || step, {ord} + 1 FROM events WHERE step IS NOT NULL
            UNION ALL
            SELECT lead_id, 'x:' || type || COALESCE(':' || ({tier}), ''), {ord} + 2
            FROM events WHERE type IN ({_TIERED_SQL})
        ) AS every_mark GROUP BY lead_id, mark
    """
    if sqlite:  # group_concat follows the subquery's order
        return (
            "INSERT INTO lead_reach (lead_id, marks)"
            " SELECT lead_id, '|' || group_concat(mark, '|') || '|'"
            f" FROM ({marks} ORDER BY lead_id, ord) AS ordered GROUP BY lead_id"
        )
    return (
        "INSERT INTO lead_reach (lead_id, marks)"
        " SELECT lead_id, '|' || string_agg(mark, '|' ORDER BY ord) || '|'"
        f" FROM ({marks}) AS firsts GROUP BY lead_id"
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "lead_reach",
        sa.Column("lead_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("marks", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_reach_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_reach")),
        # Rows are rewritten as leads reach new steps: room on the page keeps PostgreSQL's
        # updates HOT (no new index entry per version).
        postgresql_with={"fillfactor": 70},
    )
    # The trigger first: on PostgreSQL creating it locks out inserts into events until this
    # migration commits, so no event can fall between the backfill and the trigger.
    if sqlite:
        op.execute(SQLITE_TRIGGER)
    else:
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    op.execute(_backfill(sqlite))
    op.create_index("ix_events_lead_id_created_at", "events", ["lead_id", "created_at"])
    # Statistics for the new index and table. Where SQLite has none at all its planner's
    # defaults choose well; with old statistics and none for the new index it can prefer
    # the new index wrongly (seconds instead of milliseconds), so refresh them then.
    analysed = (
        op.get_bind().exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if sqlite
        else None
    )
    if analysed is None or analysed.first() is not None:
        op.execute("ANALYZE events")
        op.execute("ANALYZE lead_reach")


def downgrade() -> None:
    op.drop_index("ix_events_lead_id_created_at", table_name="events")
    op.execute("DROP TRIGGER IF EXISTS tr_events_lead_reach" + ("" if _sqlite() else " ON events"))
    if not _sqlite():
        op.execute("DROP FUNCTION IF EXISTS lead_reach_mark()")
    op.drop_table("lead_reach")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
