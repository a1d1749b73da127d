"""SQLite: the settings of every connection, and the one writer the hot path writes through.

On a SQLite file the units of work (``Database.transact``) run on one writer connection of
the plain sqlite3 driver, not through aiosqlite: aiosqlite hands every cursor call to its
thread and back (some 20 hand-offs and event-loop wake-ups per update), and pooled writers
meet at SQLite's one write lock, where the busy handler sleeps. A unit runs right on the
event loop's thread when SQLite's lock is free (BEGIN IMMEDIATE with no busy wait): it is a
fraction of a millisecond of in-process work, mostly under the GIL anyway, and a thread
hand-off costs a futex wake and a self-pipe write, syscalls that cost more than the unit on
a small VM (benchmark 3). The units of one loop turn share that transaction (``_Group``).
When the lock stays taken (another process writes), the unit goes to the one writer
thread, which waits with SQLite's busy handler without stopping the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, Transaction
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

#: SQLite: write-ahead-log pages between automatic checkpoints (SQLite's default: 1,000).
#: A checkpoint copies the log's pages back into the database file and syncs it to disk, in
#: the commit that crosses the mark, on the thread that commits: the event loop's, for the
#: hot path. An update writes some 14 pages, many of them the same few hot ones (the ends of
#: the events' indexes, the update records), which a checkpoint copies once however often
#: they were rewritten. At 1,000 a burst of typed answers spent a quarter of its wall time
#: in checkpoints (every ~70 commits, 15 ms each); at 10,000 (a log of up to ~40 MB) the
#: unit of work took ~30 % less wall time per update (benchmark 3's updates, service
#: level). Measured at 4,000 and 30,000 too: no better.
WAL_AUTOCHECKPOINT_PAGES = 10_000
#: After a checkpoint SQLite reuses the log from its start but keeps the file's size: a log
#: that grew past this (a reader held a checkpoint back) is cut back to it.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for SQLite's lock held by another process
#: A unit that finds SQLite's lock taken tries again on the loop after each of these pauses
#: (some 0.1 s in all: an in-process write holds it for a millisecond or so).
LOCK_RETRY_DELAYS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
#: The page cache of each pooled SQLite connection (SQLite's default is 2 MB, which the
#: writer keeps): the pool's reads are the touch claim's index range scans and the staff's
#: occasional reports; 512 KiB instead of 2 MB was 1.2 MB less RSS in benchmark 5.
READER_CACHE_KIB = 512


class _LockTaken(Exception):
    """SQLite's write lock is held by another connection (the unit did not start)."""


class TurnAborted(Exception):
    """SQLite ended the write transaction a unit shared with others (``_Group``) under one
    of them (a full disk, an I/O error): nothing of that loop turn's units was written."""


class _Group:
    """SQLite: the writer's open transaction shared by the units of one event-loop turn.

    Why: a commit writes every page the transaction changed to the write-ahead log, and the
    units of a burst change mostly the same pages (the right-hand ends of the events' and
    leads' indexes, the last table pages). A /start alone wrote some 26 pages a commit
    (52 ``pwrite`` calls, strace) and the commit was a quarter of its unit of work. The
    units that reach the writer in one turn of the loop (some three on average in
    benchmark 3's bursts) now share one BEGIN and one COMMIT, each in a SAVEPOINT of its
    own, so one unit's failure undoes only its own writes. Nobody hears "done" before
    the COMMIT: each waits for ``committed``, so a reply never goes out for a state that
    could still be lost. (SQLite's documentation calls this group commit; it has no
    setting for it, the application does it.)
    """

    __slots__ = ("broken", "committed", "transaction")

    def __init__(self, transaction: Transaction, committed: asyncio.Future[None]) -> None:
        self.transaction = transaction
        self.committed = committed
        #: Why the shared transaction cannot commit (SQLite rolled it back under a unit).
        self.broken: BaseException | None = None


class SqliteWriter:
    """The writer connection of a SQLite file, its thread, and the loop turn's transaction."""

    def __init__(self, url: URL, echo: bool = False) -> None:
        self.engine: Engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            echo=echo,
            # Used from the loop's thread and from the writer thread, never at once.
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=1,
            max_overflow=0,
        )
        event.listen(self.engine, "connect", _writer_connect)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writer_conn: Connection | None = None
        self._in_thread = 0  # units handed to the writer thread, not back yet (loop only)
        self._group: _Group | None = None  # the loop turn's shared transaction

    async def transact(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction on the writer connection; committed when this returns.

        Held by a write of this process's async engine (a heartbeat, a touch claim) or by
        another process, SQLite's lock is tried again on the loop a few times, then waited
        for in the writer thread. While a unit is in that thread the writer connection is
        its own, so the loop waits too. (Handing every unit to the thread while one was
        there kept them all there for the rest of a burst: a quarter of its units in
        benchmark 3, each dearer by the hand-off.)
        """
        for delay in (*LOCK_RETRY_DELAYS, None):
            if not self._in_thread:
                try:
                    group, result = self._write_grouped(work)
                except _LockTaken:
                    pass
                else:
                    # Shielded: one waiter cancelled must not cancel the others' wait.
                    await asyncio.shield(group.committed)
                    return result
            if delay is not None:
                await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        # In the caller's context, as ``asyncio.to_thread`` would (context variables such as
        # tracing marks reach the statements run there).
        call = functools.partial(contextvars.copy_context().run, self._write, work, True)
        self._in_thread += 1
        try:
            return await loop.run_in_executor(self._thread, call)
        finally:
            self._in_thread -= 1

    def _writer_connection(self) -> tuple[Connection, sqlite3.Connection]:
        conn = self._writer_conn
        if conn is None:
            # Kept open, not checked out of the pool per unit: a checkout and its return
            # were a tenth of a unit's cost. Invalidated (a disk error), it reconnects on its
            # next use, as any SQLAlchemy connection does.
            conn = self._writer_conn = self.engine.connect()
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        return conn, raw

    def _begin(self, conn: Connection, raw: sqlite3.Connection, wait: bool) -> Transaction:
        """SQLite's write lock up front, on the driver: the lead read and written back in one
        transaction cannot be changed in between by another process. SQLAlchemy's own
        transaction then only keeps its books (its BEGIN is no statement on pysqlite); the
        unit's statements mostly run on the driver too (``storage.prepared``). Without
        ``wait``, a write lock held elsewhere raises ``_LockTaken`` at once."""
        _busy_timeout(raw, conn, BUSY_TIMEOUT_MS if wait else 0)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not wait and "locked" in str(exc):
                raise _LockTaken from exc
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc
        try:
            return conn.begin()
        except BaseException:
            raw.rollback()
            raise

    def _write(self, work: Callable[[Connection], T], wait: bool) -> T:
        """One transaction of its own on the writer connection (the writer thread's way)."""
        conn, raw = self._writer_connection()
        with self._begin(conn, raw, wait):
            return work(conn)

    def _write_grouped(self, work: Callable[[Connection], T]) -> tuple[_Group, T]:
        """Run ``work`` on the loop's thread in this turn's shared transaction (``_Group``),
        opened if none is; committed by ``_commit_group`` once the turn's ready callbacks
        have run. Raises ``_LockTaken`` (nothing run) when another connection writes."""
        conn, raw = self._writer_connection()
        group = self._group
        if group is None:
            transaction = self._begin(conn, raw, wait=False)
            loop = asyncio.get_running_loop()
            group = self._group = _Group(transaction, loop.create_future())
            loop.call_soon(self._commit_group, group)
        elif group.broken is not None:
            raise TurnAborted(f"an earlier write of this moment failed: {group.broken}")
        try:
            raw.execute("SAVEPOINT leadbot_unit")
        except sqlite3.Error as exc:
            raise DBAPIError.instance("SAVEPOINT", (), exc, sqlite3.Error) from exc
        try:
            result = work(conn)
        except BaseException as exc:
            try:
                raw.execute("ROLLBACK TO leadbot_unit")
                raw.execute("RELEASE leadbot_unit")
            except sqlite3.Error:
                # SQLite ended the whole transaction under the unit (a full disk, an I/O
                # error): nothing of this turn can commit; its other units hear so.
                group.broken = exc
            raise
        try:
            raw.execute("RELEASE leadbot_unit")
        except sqlite3.Error as exc:
            group.broken = exc  # the turn's transaction is in no state to commit
            raise DBAPIError.instance("RELEASE", (), exc, sqlite3.Error) from exc
        return group, result

    def _commit_group(self, group: _Group) -> None:
        """Commit (or, broken, roll back) a turn's shared transaction; its units hear."""
        if self._group is group:
            self._group = None
        transaction, committed = group.transaction, group.committed
        try:
            if group.broken is not None:
                raise TurnAborted(f"a write of this moment failed: {group.broken}")
            transaction.commit()
        except BaseException as exc:
            # Nothing of the turn was written: the connection is left with no transaction.
            with contextlib.suppress(Exception):
                if transaction.is_active:
                    transaction.rollback()
                conn = self._writer_conn
                raw = conn.connection.dbapi_connection if conn is not None else None
                if isinstance(raw, sqlite3.Connection) and raw.in_transaction:
                    raw.rollback()
            if not committed.done():
                committed.set_exception(exc)
            committed.exception()  # read here: a turn whose waiters all left is no error
            if not isinstance(exc, Exception):
                raise
            return
        if not committed.done():
            committed.set_result(None)

    async def close(self) -> None:
        if self._group is not None:  # a loop turn's units not committed yet
            self._commit_group(self._group)
        conn, self._writer_conn = self._writer_conn, None
        if conn is not None:
            conn.close()
        await asyncio.get_running_loop().run_in_executor(self._thread, self.engine.dispose)
        self._thread.shutdown(wait=False)


def reader_connect(dbapi_connection: Any, record: Any) -> None:
    """A pooled connection: the shared pragmas and a smaller page cache (READER_CACHE_KIB)."""
    sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
    cursor.close()


def _writer_connect(dbapi_connection: Any, record: Any) -> None:
    """The writer says BEGIN itself (``SqliteWriter._begin``): sqlite3 would otherwise start the
    transaction only at the first write, after the lead was read (SQLAlchemy's documented
    recipe for pysqlite)."""
    sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None


def _busy_timeout(raw: sqlite3.Connection, conn: Connection, ms: int) -> None:
    """Set how long the writer waits for SQLite's lock: a PRAGMA on the driver's connection
    only when it changes (not a statement of the unit, so not counted as one)."""
    if conn.info.get("busy_timeout") != ms:
        raw.execute(f"PRAGMA busy_timeout={ms}")
        conn.info["busy_timeout"] = ms


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    # Deleted or overwritten personal data is zeroed on disk, not merely marked free.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
