"""The SQLite writer (``Database.transact``) when SQLite's write lock is held elsewhere.

A unit normally runs on the event loop's thread. If another connection holds the lock
(another process, or this process's async engine), the unit tries again on the loop for a
short while, then waits in the writer thread; the loop keeps serving either way, and the
work is done once, committed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Connection, text

from storage.db import Database
from storage.sqlite import LOCK_RETRY_DELAYS, WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT


def _count(conn: Connection) -> int:
    conn.execute(
        text(
            "INSERT INTO processed_updates (update_id, instance, done, seen_at)"
            " VALUES (:u, 'test', 1, '2026-12-03 00:00:00')"
        ),
        {"u": time.monotonic_ns()},
    )
    return int(conn.execute(text("SELECT count(*) FROM processed_updates")).scalar_one())


async def _held_for(path: Path, seconds: float, db: Database) -> tuple[int, int]:
    """Run a unit while another connection holds the write lock for ``seconds``; returns
    (the unit's result, loop ticks seen while it waited)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    unit = asyncio.create_task(db.transact(_count))
    await asyncio.sleep(seconds)
    assert not unit.done()  # it waits for the lock, it does not fail
    other.execute("COMMIT")
    other.close()
    result = await asyncio.wait_for(unit, 30)
    ticker.cancel()
    return result, ticks


async def test_a_short_hold_is_waited_out_on_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "lb.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.upgrade()
        assert await db.transact(_count) == 1
        result, ticks = await _held_for(path, sum(LOCK_RETRY_DELAYS) / 4, db)
        assert result == 2
        assert ticks > 0
    finally:
        await db.close()


async def test_a_long_hold_is_waited_out_in_the_writer_thread(tmp_path: Path) -> None:
    path = tmp_path / "lb.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.upgrade()
        result, ticks = await _held_for(path, sum(LOCK_RETRY_DELAYS) * 3, db)
        assert result == 1
        # The loop kept running while the unit waited in the thread.
        assert ticks >= sum(LOCK_RETRY_DELAYS) * 3 / 0.005 / 3
        # And units after it run on the loop again.
        assert await db.transact(_count) == 2
    finally:
        await db.close()


async def test_every_connection_checkpoints_rarely(tmp_path: Path) -> None:
    """The writer and the pooled connections alike: a commit on any of them at SQLite's
    default (1,000 pages) would run the checkpoint the others put off."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'leads.db'}")
    try:
        await db.upgrade()

        def pragmas(conn: Connection) -> tuple[int, int]:
            checkpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar_one()
            return int(checkpoint), int(limit)

        expected = (WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT)
        assert await db.transact(pragmas) == expected
        async with db.engine.connect() as conn:
            assert await conn.run_sync(pragmas) == expected
    finally:
        await db.close()
