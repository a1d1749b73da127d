"""PostgreSQL's units of work run in asyncpg's own transaction (``Database.transact``), with
statements through SQLAlchemy, when a unit has any, in a savepoint of it."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, text

from bot.engine.types import LeadState
from storage.db import Database
from storage.unit import Unit

pytestmark = [
    pytest.mark.skipif(not os.environ.get("TEST_POSTGRES_URL"), reason="needs PostgreSQL"),
    pytest.mark.parametrize("db", ["postgres"], indirect=True),
]


def _load_and_count(conn: Connection) -> int:
    """A unit with a statement on the driver and one through SQLAlchemy."""
    Unit(conn).load("telegram", 1)
    return int(conn.execute(text("SELECT count(*) FROM leads")).scalar_one())


async def test_fresh_connections_run_units(db: Database) -> None:
    """A connection's set-up (``SET jit = off``) must not leave a transaction open that the
    unit's would be nested in: the first units on fresh connections failed at their end
    ("RELEASE SAVEPOINT can only be used in transaction blocks")."""
    await db.engine.dispose()  # every unit below gets a new connection
    counts = await asyncio.gather(*(db.transact(_load_and_count) for _ in range(4)))
    assert counts == [0, 0, 0, 0]


async def test_a_failed_unit_leaves_nothing(db: Database) -> None:
    """Both transactions roll back: the unit's driver statements and SQLAlchemy's."""

    def insert_then_fail(conn: Connection) -> None:
        unit = Unit(conn)
        unit.store(None, ("telegram", 77), LeadState(first_name="A"), datetime.now(UTC), "1")
        conn.execute(text("SELECT 1"))
        raise RuntimeError("the engine broke")

    with pytest.raises(RuntimeError):
        await db.transact(insert_then_fail)
    assert await db.transact(_load_and_count) == 0
