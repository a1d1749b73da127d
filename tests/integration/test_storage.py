"""Repositories and migrations on a real database (SQLite file; PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, select, text

from storage.db import Database
from storage.leads import LeadRepo
from storage.models import Event, Lead, ScheduledTouch
from storage.touches import TouchRepo
from tests.conftest import in_unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_schema_has_the_lead_log_tables(db: Database) -> None:
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert {"leads", "answers", "events", "scheduled_touches", "alembic_version"} <= tables
    assert await db.current_revision() is not None


async def test_lead_answers_and_events_round_trip(db: Database) -> None:
    async with db.session() as session, session.begin():
        repo = LeadRepo(session)
        lead = await repo.get_or_create("telegram", 42, NOW)
        lead.source, lead.username = "vk_ads_nov", "Ann_Shop"
        await session.flush()
        lead_id = lead.id
        await in_unit(session, lambda u: u.save_answer(lead_id, "budget", "Budget?", "big", NOW))
        # a re-answer
        await in_unit(session, lambda u: u.save_answer(lead_id, "budget", "Budget?", "small", NOW))
        repo.add_events(
            lead.id,
            [
                ("started", None, {"source": "vk_ads_nov"}),
                ("answer_given", "q", {"value": "Привет <b>"}),
            ],
            NOW,
        )
        lead_id = lead.id
    async with db.session() as session:
        repo = LeadRepo(session)
        again = await repo.get_or_create("telegram", 42, NOW)
        assert again.id == lead_id and again.source == "vk_ads_nov"
        assert again.created_at == NOW  # aware UTC on every backend
        assert [(a.key, a.answer) for a in await repo.answers(lead_id)] == [("budget", "small")]
        events = await repo.events(lead_id)
        assert [e.type for e in events] == ["started", "answer_given"]
        assert events[1].payload == {"value": "Привет <b>"}
        assert (await repo.by_username("@ann_shop")) is not None
        other = await repo.get_or_create("terminal", 42, NOW)
        assert other.id != lead_id  # the simulator's leads never mix with Telegram's


async def test_touches_claim_cancel_and_lease(db: Database) -> None:
    async with db.session() as session, session.begin():
        lead = await LeadRepo(session).get_or_create("telegram", 7, NOW)
        await session.flush()
        lead_id = lead.id
        await in_unit(
            session, lambda u: u.schedule(lead_id, NOW - timedelta(minutes=1), "a", 1, NOW)
        )
        await in_unit(session, lambda u: u.schedule(lead_id, NOW + timedelta(hours=1), "b", 2, NOW))
    async with db.session() as session, session.begin():
        claimed, doubt = await TouchRepo(session).claim_due(NOW, 10, "w1", timedelta(minutes=5))
        assert [t.step for t in claimed] == ["a"] and doubt == []
    async with db.session() as session, session.begin():
        # Claimed and not finished: nobody else gets it until the lease runs out.
        assert await TouchRepo(session).claim_due(NOW, 10, "w2", timedelta(minutes=5)) == ([], [])
    later = NOW + timedelta(minutes=6)
    async with db.session() as session, session.begin():
        reclaimed, _ = await TouchRepo(session).claim_due(later, 10, "w2", timedelta(minutes=5))
        assert [(t.step, t.attempts, t.claimed_by) for t in reclaimed] == [("a", 2, "w2")]
        await TouchRepo(session).finish(reclaimed[0].id, "sent", later)
    async with db.session() as session, session.begin():
        assert await TouchRepo(session).cancel_pending(lead_id, later) == 1
        states = (
            await session.execute(
                select(ScheduledTouch.step, ScheduledTouch.state).order_by(ScheduledTouch.step)
            )
        ).all()
        assert [tuple(row) for row in states] == [("a", "sent"), ("b", "cancelled")]


async def test_upgrade_twice_keeps_lead_data(db: Database) -> None:
    async with db.session() as session, session.begin():
        lead = await LeadRepo(session).get_or_create("telegram", 1, NOW)
        await session.flush()
        LeadRepo(session).add_events(lead.id, [("started", None, {})], NOW)
    await db.upgrade()
    async with db.session() as session:
        assert len((await session.execute(select(Lead))).scalars().all()) == 1
        assert len((await session.execute(select(Event))).scalars().all()) == 1


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        await database.upgrade()
        async with database.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert mode == "wal"
        assert (tmp_path / "sub" / "x.db").exists()
    finally:
        await database.close()


async def test_a_touch_that_died_while_sending_is_not_sent_again(db: Database) -> None:
    async with db.session() as session, session.begin():
        lead = await LeadRepo(session).get_or_create("telegram", 8, NOW)
        await session.flush()
        lead_id = lead.id
        await in_unit(session, lambda u: u.schedule(lead_id, NOW, "a", 1, NOW))
    async with db.session() as session, session.begin():
        claimed, _ = await TouchRepo(session).claim_due(NOW, 10, "w1", timedelta(minutes=5))
        await in_unit(session, lambda u: u.mark_sending(claimed[0].id))
    later = NOW + timedelta(minutes=6)
    async with db.session() as session, session.begin():
        run, doubt = await TouchRepo(session).claim_due(later, 10, "w2", timedelta(minutes=5))
        assert run == [] and [t.state for t in doubt] == ["unknown"]


async def test_upgrading_an_old_schema_keeps_its_leads(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await database.upgrade("0001")
        async with database.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO leads (channel, user_id, first_name, last_name, username,"
                    " language, stage, status, flags, state, created_at, updated_at)"
                    " VALUES ('telegram', 5, 'Ann', '', '', '', 'warm', 'active', '[]', '{}',"
                    " '2026-01-01', '2026-01-01')"
                )
            )
        await database.upgrade()
        async with database.session() as session:
            lead = (await session.execute(select(Lead))).scalar_one()
            assert (lead.first_name, lead.stage, lead.consent) == ("Ann", "warm", None)
    finally:
        await database.close()


def test_head_revision_is_the_newest_migration() -> None:
    from storage.db import HEAD_REVISION, MIGRATIONS

    newest = max(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))
    assert newest == HEAD_REVISION
