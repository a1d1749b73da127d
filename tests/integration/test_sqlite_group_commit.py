"""SQLite's group commit: the units of one event-loop turn share the writer's transaction.

Each unit runs in a SAVEPOINT of its own inside it and hears "done" only after the one
COMMIT (``storage.db._Group``). These check what that must never change: every unit's
writes are on disk when its ``transact`` returns, one unit's failure undoes only its own
writes, SQLite ending the transaction under a unit fails the turn's others instead of
pretending, and a waiter cancelled does not take the others with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, event, text

from storage.db import Database
from storage.sqlite import TurnAborted


def _record(update_id: int, fail: bool = False) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(
            text(
                "INSERT INTO processed_updates (update_id, instance, done, seen_at)"
                " VALUES (:u, 'test', 1, '2026-12-03 00:00:00')"
            ),
            {"u": update_id},
        )
        if fail:
            raise ValueError(f"unit {update_id} fails after writing")
        return update_id

    return work


def _on_disk(db: Database) -> set[int]:
    """What another connection sees: only committed rows."""
    assert db.url.database is not None
    other = sqlite3.connect(db.url.database)
    try:
        return {r[0] for r in other.execute("SELECT update_id FROM processed_updates")}
    finally:
        other.close()


def _commits(db: Database) -> list[int]:
    assert db.writer is not None
    commits: list[int] = []
    event.listen(db.writer, "commit", lambda _conn: commits.append(1))
    return commits


async def test_units_of_one_turn_share_one_commit_and_are_on_disk_when_done(
    sqlite_db: Database,
) -> None:
    commits = _commits(sqlite_db)
    seen: list[set[int]] = []

    async def unit(n: int) -> None:
        await sqlite_db.transact(_record(n))
        seen.append(_on_disk(sqlite_db))  # right after "done": committed already

    await asyncio.gather(*(unit(n) for n in range(1, 6)))
    assert len(commits) == 1  # five units, one BEGIN IMMEDIATE and one COMMIT
    assert all(s == {1, 2, 3, 4, 5} for s in seen)

    await sqlite_db.transact(_record(6))  # a later turn: a transaction of its own
    assert len(commits) == 2
    assert _on_disk(sqlite_db) == {1, 2, 3, 4, 5, 6}


async def test_a_failing_unit_undoes_only_its_own_writes(sqlite_db: Database) -> None:
    results = await asyncio.gather(
        sqlite_db.transact(_record(1)),
        sqlite_db.transact(_record(2, fail=True)),
        sqlite_db.transact(_record(3)),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 3
    assert isinstance(results[1], ValueError)
    assert _on_disk(sqlite_db) == {1, 3}


async def test_a_transaction_ended_under_a_unit_fails_the_turn_not_silently(
    sqlite_db: Database,
) -> None:
    def ends_it(conn: Connection) -> int:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.execute("ROLLBACK")  # what SQLite does itself on a full disk or an I/O error
        raise sqlite3.OperationalError("disk I/O error")

    results = await asyncio.gather(
        sqlite_db.transact(_record(1)),
        sqlite_db.transact(ends_it),
        sqlite_db.transact(_record(3)),
        return_exceptions=True,
    )
    assert isinstance(results[0], TurnAborted)  # its writes went with the transaction
    assert isinstance(results[1], sqlite3.OperationalError)
    assert isinstance(results[2], TurnAborted)
    assert _on_disk(sqlite_db) == set()
    # The writer is usable again in the next turn.
    assert await sqlite_db.transact(_record(4)) == 4
    assert _on_disk(sqlite_db) == {4}


async def test_a_cancelled_waiter_leaves_the_others_waiting_for_the_commit(
    sqlite_db: Database,
) -> None:
    first = asyncio.ensure_future(sqlite_db.transact(_record(1)))
    second = asyncio.ensure_future(sqlite_db.transact(_record(2)))
    await asyncio.sleep(0)  # both units ran; the commit is the next callback
    first.cancel()
    assert await second == 2
    with pytest.raises(asyncio.CancelledError):
        await first
    assert _on_disk(sqlite_db) == {1, 2}  # the cancelled one's writes had run: they commit too
