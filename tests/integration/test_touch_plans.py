"""The touch loop's statements on scheduled_touches go through an index on SQLite, even with
ANALYZE statistics (issue 15).

With statistics SQLite knows only how many rows share a ``state`` on average; almost every
row is pending (or done), so ``state IN ('claimed', 'sending')`` once looked dearer than a
full scan, and the claim of abandoned touches scanned the whole queue on every tick.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, text

from bench.seeding import clone, drop_templates, make_templates
from bot.scenario.funnel import Funnel
from bot.service import utcnow
from storage.db import Database
from storage.instances import InstanceRepo
from storage.touches import TouchRepo

LEADS = 2000
INDEX = "ix_scheduled_touches_state_due_at"


async def test_claims_and_releases_use_the_state_index_with_statistics(
    sqlite_db: Database, mini: Funnel
) -> None:
    db = sqlite_db
    now = utcnow()
    templates = await make_templates(db, mini)
    await clone(
        db,
        templates.touch,
        1,
        LEADS,
        due=now - timedelta(minutes=1),
        later=now + timedelta(days=30),
        due_every=100,
    )
    await drop_templates(db, templates)  # and ANALYZE
    async with db.engine.connect() as conn:
        stats = await conn.execute(text("SELECT count(*) FROM sqlite_stat1"))
        assert stats.scalar_one() > 0

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "scheduled_touches" in statement and "state" in statement:
            captured.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.session() as session, session.begin():
            lease = timedelta(minutes=10)
            await TouchRepo(session).claim_due(now, 100, "me", lease, ("telegram", "business"))
            await TouchRepo(session).claim_due(now, 100, "me", lease)
            await InstanceRepo(session).leave("me", now)  # releases its claims
            await session.rollback()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)

    abandoned = [s for s in captured if "lease_until <=" in s[0]]
    released = [
        s for s in captured if s[0].lstrip().startswith("UPDATE") and "claimed_by IN" in s[0]
    ]
    assert len(abandoned) == 2 and len(released) == 1
    async with db.engine.connect() as conn:
        for statement, parameters in captured:
            transaction = await conn.begin()
            rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = "\n".join(str(row[-1]) for row in rows.all())
            await transaction.rollback()
            if "WHERE" in statement and "scheduled_touches.id IN" not in statement:
                assert INDEX in plan, (statement, plan)
            assert "SCAN scheduled_touches" not in plan, (statement, plan)
