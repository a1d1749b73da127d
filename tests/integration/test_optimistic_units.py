"""PostgreSQL's optimistic units of work (``storage.unit``): no BEGIN, no COMMIT, one checked
statement. What another instance did between the read and the write is never overwritten:
the statement fails as a whole and the update runs again the locking way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.engine.types import LeadState
from bot.vocabulary import RESUME_KIND, EventType
from storage.db import Database
from storage.leads import EVENTS, LEADS
from storage.unit import Unit
from storage.unit_statements import TOUCHES
from tests.conftest import Clock


@pytest.fixture
def pg(db: Database) -> Database:
    if db.is_sqlite:
        pytest.skip("SQLite's units run under its write lock: nothing optimistic there")
    return db


async def _lead_and_events(db: Database, key: tuple[str, int]) -> tuple[int, LeadState, int]:
    async with db.engine.connect() as conn:
        leads = (
            await conn.execute(
                select(func.count()).select_from(LEADS).where(LEADS.c.user_id == key[1])
            )
        ).scalar_one()
        assert leads == 1
    lead_id, state = await db.transact(lambda c: Unit(c).load(*key))
    assert lead_id is not None
    async with db.engine.connect() as conn:
        events = (
            await conn.execute(
                select(func.count()).select_from(EVENTS).where(EVENTS.c.lead_id == lead_id)
            )
        ).scalar_one()
    return lead_id, state, int(events)


async def test_a_lead_changed_meanwhile_is_not_overwritten(pg: Database, clock: Clock) -> None:
    key = ("telegram", 6161)
    now = clock()
    await pg.transact(lambda c: Unit(c).store(None, key, LeadState(first_name="A"), now, "1"))
    tried: list[bool] = []

    def work(conn: Connection) -> int:
        unit = Unit(conn)
        tried.append(unit.optimistic)
        lead_id, state = unit.load(*key)
        assert lead_id is not None
        if len(tried) == 1:  # another instance writes the lead between our read and write
            with conn.engine.begin() as other:
                changed = update(LEADS).where(LEADS.c.id == lead_id).values(last_name="Changed")
                other.execute(changed)
        state.first_name += "+"
        unit.store(lead_id, key, state, now, "1")
        unit.insert_events(lead_id, [(EventType.ANSWER_GIVEN, "q", {})], now)
        assert unit.finish()
        return unit.new_id or lead_id

    lead_id = await pg.transact(work, optimistic=True)
    assert tried == [True, False]  # the optimistic write failed as a whole, then locked
    found, state, events = await _lead_and_events(pg, key)
    assert found == lead_id
    assert (state.first_name, state.last_name) == ("A+", "Changed")
    assert events == 1  # the failed attempt left no event behind


async def test_an_unchanged_lead_lands_in_one_attempt(pg: Database, clock: Clock) -> None:
    key = ("telegram", 6262)
    now = clock()
    await pg.transact(lambda c: Unit(c).store(None, key, LeadState(first_name="A"), now, "1"))
    tried: list[bool] = []

    def work(conn: Connection) -> None:
        unit = Unit(conn)
        tried.append(unit.optimistic)
        lead_id, state = unit.load(*key)
        assert lead_id is not None
        state.first_name = "B"
        unit.store(lead_id, key, state, now, "1")
        unit.insert_events(lead_id, [(EventType.ANSWER_GIVEN, "q", {})], now)
        assert unit.finish()

    await pg.transact(work, optimistic=True)
    assert tried == [True]
    _, state, events = await _lead_and_events(pg, key)
    assert (state.first_name, events) == ("B", 1)


async def test_a_first_contact_raced_meanwhile_runs_again_on_that_row(
    pg: Database, clock: Clock
) -> None:
    key = ("telegram", 6363)
    now = clock()
    tried: list[bool] = []

    def work(conn: Connection) -> int:
        unit = Unit(conn)
        tried.append(unit.optimistic)
        lead_id, state = unit.load(*key)
        if len(tried) == 1:  # nobody yet; another instance inserts the person meanwhile
            assert lead_id is None
            with conn.engine.begin() as other:
                Unit(other).store(None, key, LeadState(first_name="First"), now, "1")
        else:
            assert (lead_id, state.first_name) != (None, "")
        state.last_name = "Second"
        stored = unit.store(lead_id, key, state, now, "1")
        unit.insert_events(stored, [(EventType.STARTED, None, {})], now)
        assert unit.finish()
        return unit.new_id or stored

    lead_id = await pg.transact(work, optimistic=True)
    assert tried == [True, False]
    found, state, events = await _lead_and_events(pg, key)
    assert found == lead_id
    assert (state.first_name, state.last_name, events) == ("First", "Second", 1)


async def test_a_new_lead_gets_its_id_from_the_one_statement(pg: Database, clock: Clock) -> None:
    key = ("telegram", 6464)
    now = clock()

    def work(conn: Connection) -> int:
        unit = Unit(conn)
        lead_id, state = unit.load(*key)
        assert lead_id is None and unit.optimistic
        state.first_name = "New"
        stored = unit.store(None, key, state, now, "1")
        for step in ("hello", "q_need"):
            unit.insert_events(stored, [(EventType.STEP_SENT, step, {})], now)
        assert unit.finish()
        assert unit.new_id is not None
        return unit.new_id

    lead_id = await pg.transact(work, optimistic=True)
    found, state, events = await _lead_and_events(pg, key)
    assert (found, state.first_name, events) == (lead_id, "New", 2)


async def test_work_in_progress_is_closed_by_an_optimistic_unit(pg: Database, clock: Clock) -> None:
    """Every part of the one statement runs on the driver, outside any transaction: a part
    only SQLAlchemy could run would have opened a transaction never committed."""
    key = ("telegram", 6565)
    now = clock()

    def hold(conn: Connection) -> None:
        unit = Unit(conn)
        lead_id, state = unit.load(*key)
        stored = unit.store(lead_id, key, state, now, "1")
        unit.hold_work(stored, "classify", now, None, timedelta(minutes=2))
        assert unit.finish()

    def close(conn: Connection) -> None:
        unit = Unit(conn)
        tried.append(unit.optimistic)
        lead_id, state = unit.load(*key)
        assert lead_id is not None
        unit.store(lead_id, key, state, now, "1")
        unit.close_work(lead_id)
        assert unit.finish()

    tried: list[bool] = []
    await pg.transact(hold, optimistic=True)
    assert await _work_records(pg) == 1
    await pg.transact(close, optimistic=True)
    assert tried == [True]
    assert await _work_records(pg) == 0


async def _work_records(db: Database) -> int:
    async with db.engine.connect() as conn:
        query = select(func.count()).select_from(TOUCHES).where(TOUCHES.c.kind == RESUME_KIND)
        return int((await conn.execute(query)).scalar_one())


async def test_a_statement_only_sqlalchemy_runs_needs_a_transaction(pg: Database) -> None:
    """An expanding IN list cannot run on the driver; through SQLAlchemy it would open a
    transaction the optimistic unit never commits, so the work runs in a real one."""
    tried: list[bool] = []

    def work(conn: Connection) -> list[Any]:
        unit = Unit(conn)
        tried.append(unit.optimistic)
        return unit._rows(select(LEADS.c.id).where(LEADS.c.id.in_([1, 2])), {})

    assert await pg.transact(work, optimistic=True) == []
    assert tried == [True, False]


@pytest.mark.parametrize("optimistic", [True, False], ids=["optimistic", "locking"])
async def test_a_connection_the_server_dropped_is_not_handed_out_again(
    pg: Database, clock: Clock, optimistic: bool
) -> None:
    """The unit's statements go straight to asyncpg, past SQLAlchemy's disconnect handling:
    ``transact`` invalidates the pooled connection itself, so only the update in flight fails
    (either way: optimistic, or in asyncpg's own transaction)."""
    key = ("telegram", 6464)
    now = clock()
    await pg.transact(lambda c: Unit(c).store(None, key, LeadState(first_name="A"), now, "1"))

    def server_pid(conn: Connection) -> int:
        Unit(conn).load(*key)
        return int(conn.connection.driver_connection.get_server_pid())  # type: ignore[union-attr]

    first = await pg.transact(server_pid, optimistic=optimistic)
    other = create_async_engine(pg.url)
    try:
        async with other.connect() as admin:
            await admin.execute(select(func.pg_terminate_backend(first)))
    finally:
        await other.dispose()
    with pytest.raises(DBAPIError):  # the update in flight on that connection
        await pg.transact(server_pid, optimistic=optimistic)
    second = await pg.transact(server_pid, optimistic=optimistic)
    assert second != first
