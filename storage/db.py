"""Engine and session factory, SQLite pragmas, and running migrations."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0014"  # the newest migration; reading commands refuse an older schema
#: SQLite file: the pooled (aiosqlite) connections kept open while idle. The hot path
#: writes through the one writer connection; the pool serves the touch loop's claims,
#: reports and the staff's commands, and each of its connections holds a thread and a page
#: cache of its own: SQLAlchemy's five idle ones were 2.4 MB of the bot's resident memory
#: (benchmark 5). Busy moments still open up to ``max_overflow`` (10) more.
READER_POOL_SIZE = 1
#: The page cache of each pooled SQLite connection (SQLite's default is 2 MB, which the
#: writer keeps): the pool's reads are the touch claim's index range scans and the staff's
#: occasional reports; 512 KiB instead of 2 MB was 1.2 MB less RSS in benchmark 5.
READER_CACHE_KIB = 512
#: PostgreSQL: connections kept open. The dispatcher runs up to 16 updates at once
#: (``app.runner.CONCURRENT_UPDATES``), each holding a connection for its transaction, and
#: the touch loop, heartbeats and staff commands need theirs: an overflow connection is
#: closed when it comes back, so a smaller pool opened and closed connections all through a
#: burst (asyncpg connects and server forks in the profile of benchmark 3).
POSTGRES_POOL_SIZE = 20
#: The execution option ``transact`` sets for an optimistic attempt (``storage.unit``).
OPTIMISTIC = "leadbot_optimistic"


class NeedsTransaction(Exception):
    """An optimistic unit of work cannot go on without a transaction; nothing was written.
    ``Database.transact`` runs the work again in one."""


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


class _LockTaken(Exception):
    """SQLite's write lock is held by another connection (the unit did not start)."""


class Database:
    """One per process: the async engine and its sessions."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        sqlite_file = self.is_sqlite and self.url.database not in (None, "", ":memory:")
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
            if sqlite_file:
                kwargs.update(pool_size=READER_POOL_SIZE, max_overflow=10)
        else:
            # No pre-ping round trip per checkout: connections are recycled before servers
            # and proxies drop idle ones, and a dead one fails its statement, which the
            # caller's transaction already handles (a ping would only move that failure).
            kwargs.update(pool_recycle=1800, pool_size=POSTGRES_POOL_SIZE, max_overflow=10)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            pragmas = _sqlite_reader_connect if sqlite_file else _sqlite_pragmas
            event.listen(self.engine.sync_engine, "connect", pragmas)
        elif self.url.get_backend_name() == "postgresql":
            event.listen(self.engine.sync_engine, "connect", _postgres_settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite file: the units of work (``transact``) run on one writer connection of the
        # plain sqlite3 driver. aiosqlite hands every cursor call to its thread and back
        # (some 20 hand-offs and event-loop wake-ups per update), and pooled writers meet
        # at SQLite's one write lock, where the busy handler sleeps. A unit runs right on the
        # event loop's thread when SQLite's lock is free (BEGIN IMMEDIATE with no busy wait):
        # it is a fraction of a millisecond of in-process work, mostly under the GIL anyway,
        # and a thread hand-off costs a futex wake and a self-pipe write, syscalls that cost
        # more than the unit on a small VM (benchmark 3). When the lock stays taken (another
        # process writes), the unit goes to the one writer thread, which waits with SQLite's
        # busy handler without stopping the loop.
        self.writer: Engine | None = None
        self._writer_thread: ThreadPoolExecutor | None = None
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            self.writer = create_engine(
                self.url.set(drivername="sqlite+pysqlite"),
                echo=echo,
                # Used from the loop's thread and from the writer thread, never at once.
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self.writer, "connect", _sqlite_writer_connect)
            self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writer_conn: Connection | None = None
        self._in_thread = 0  # units handed to the writer thread, not back yet (loop only)

    def session(self) -> AsyncSession:
        return self.sessions()

    @property
    def sync_engines(self) -> list[Engine]:
        """Every engine statements go through (for statement counters and tracing)."""
        return [self.engine.sync_engine] + ([self.writer] if self.writer is not None else [])

    async def transact(self, work: Callable[[Connection], T], optimistic: bool = False) -> T:
        """Run ``work`` in one transaction on a sync connection; committed if it returns.

        ``optimistic`` (PostgreSQL): first without a transaction, ``work`` landing all its
        writes in one checked statement (``storage.unit``); if it raises
        ``NeedsTransaction``, again in a transaction. ``work`` must be safe to run twice:
        everything it decides comes from what it reads.

        The hot path's unit of work (``storage.unit``) is plain synchronous code: on a SQLite
        file it runs on the writer connection (on the loop's thread when SQLite's lock is
        free, else in the writer thread), on PostgreSQL in asyncpg's own transaction
        (``_transact_asyncpg``), elsewhere through the async driver (``run_sync``).
        """
        if self._writer_thread is not None:
            # Held by a write of this process's async engine (a heartbeat, a touch claim)
            # or by another process: try again on the loop a few times, then wait for it in
            # the writer thread. While a unit is in that thread the writer connection is
            # its own, so the loop waits too. (Handing every unit to the thread while one
            # was there kept them all there for the rest of a burst: a quarter of its units
            # in benchmark 3, each dearer by the hand-off.)
            for delay in LOCK_RETRY_DELAYS:
                if not self._in_thread:
                    try:
                        return self._write(work, wait=False)
                    except _LockTaken:
                        pass
                await asyncio.sleep(delay)
            loop = asyncio.get_running_loop()
            # In the caller's context, as ``asyncio.to_thread`` would (context variables such
            # as tracing marks reach the statements run there).
            call = functools.partial(contextvars.copy_context().run, self._write, work, True)
            self._in_thread += 1
            try:
                return await loop.run_in_executor(self._writer_thread, call)
            finally:
                self._in_thread -= 1
        if self.url.get_backend_name() == "postgresql":
            if optimistic:
                try:
                    return await self._attempt_asyncpg(work)
                except NeedsTransaction:
                    pass
            return await self._transact_asyncpg(work)
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def _attempt_asyncpg(self, work: Callable[[Connection], T]) -> T:
        """PostgreSQL without BEGIN and COMMIT: each statement ``work`` runs commits on its
        own, and an optimistic unit runs one read and one checked write (``storage.unit``)."""
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            if driver.is_in_transaction():
                raise NeedsTransaction("the connection is in a transaction")
            await conn.execution_options(**{OPTIMISTIC: True})
            try:
                return await conn.run_sync(work)
            except BaseException:
                if driver.is_closed():  # the server went away: SQLAlchemy's pool must know
                    await conn.invalidate()
                raise

    async def _transact_asyncpg(self, work: Callable[[Connection], T]) -> T:
        """PostgreSQL: the transaction is asyncpg's own (BEGIN and COMMIT straight on the
        driver, as the unit's statements are, ``storage.prepared``). SQLAlchemy's transaction
        inside it keeps SQLAlchemy's books and events; a statement that does go through
        SQLAlchemy (a rare path of the unit) makes its asyncpg adapter open a savepoint in
        ours, released when SQLAlchemy's transaction commits, before ours does."""
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            if driver.is_in_transaction():
                # Someone left the adapter's own transaction open on this connection: ours
                # would be nested in it and end before it. SQLAlchemy's way is always right.
                async with conn.begin():
                    return await conn.run_sync(work)
            try:
                async with driver.transaction(), conn.begin():
                    return await conn.run_sync(work)
            except BaseException:
                if driver.is_closed():  # the server went away: SQLAlchemy's pool must know
                    await conn.invalidate()
                raise

    def _write(self, work: Callable[[Connection], T], wait: bool) -> T:
        """One transaction on the writer connection. Without ``wait``, a write lock held
        elsewhere raises ``_LockTaken`` at once (nothing was run)."""
        conn = self._writer_conn
        if conn is None:
            # Kept open, not checked out of the pool per unit: a checkout and its return
            # were a tenth of a unit's cost. Invalidated (a disk error), it reconnects on its
            # next use, as any SQLAlchemy connection does.
            assert self.writer is not None
            conn = self._writer_conn = self.writer.connect()
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        _busy_timeout(raw, conn, BUSY_TIMEOUT_MS if wait else 0)
        # SQLite's write lock up front, on the driver: the lead read and written back in one
        # transaction cannot be changed in between by another process. SQLAlchemy's own
        # transaction then only keeps its books (its BEGIN is no statement on pysqlite);
        # the unit's statements mostly run on the driver too (``storage.prepared``).
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not wait and "locked" in str(exc):
                raise _LockTaken from exc
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc
        try:
            transaction = conn.begin()
        except BaseException:
            raw.rollback()
            raise
        with transaction:
            return work(conn)

    async def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations (idempotent; never drops lead data).

        A schema already at ``HEAD_REVISION`` is told by one plain query, so a normal start
        never imports Alembic (about 11 MB and a few hundred milliseconds).
        """
        if revision == "head" and await self.current_revision() == HEAD_REVISION:
            return
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, revision)

    async def current_revision(self) -> str | None:
        """The schema's Alembic revision (None on an empty database), read without Alembic."""
        async with self.engine.connect() as conn:
            try:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            except DBAPIError:  # no such table: nothing migrated yet
                return None
        if len(rows) != 1:  # none, or branches: let Alembic sort it out
            return None if not rows else ",".join(sorted(r[0] for r in rows))
        return str(rows[0][0])

    async def scrub(self) -> None:
        """Push erased rows out of the SQLite write-ahead log (after ``/forget`` or a prune).

        With ``secure_delete`` the freed pages are zeroed, but until a checkpoint the old page
        images still sit in the ``-wal`` file; TRUNCATE copies them back and empties it.
        PostgreSQL needs nothing here: its dead tuples go with (auto)VACUUM, see
        docs/deployment.md.
        """
        if not self.is_sqlite:
            return
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        await self.engine.dispose()
        if self._writer_thread is not None and self.writer is not None:
            writer, conn, self._writer_conn = self.writer, self._writer_conn, None
            if conn is not None:
                conn.close()
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, writer.dispose)
            self._writer_thread.shutdown(wait=False)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upsert_insert(dialect_name: str) -> Any:
    """The ``insert`` of ``dialect_name`` with ``ON CONFLICT`` (PostgreSQL's, else SQLite's),
    imported on first use: a SQLite bot never loads the PostgreSQL dialect (~1.5 MB)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _run_upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def _sqlite_reader_connect(dbapi_connection: Any, record: Any) -> None:
    """A pooled connection: the shared pragmas and a smaller page cache (READER_CACHE_KIB)."""
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
    cursor.close()


def _sqlite_writer_connect(dbapi_connection: Any, record: Any) -> None:
    """The writer says BEGIN itself (``_begin_immediate``): sqlite3 would otherwise start the
    transaction only at the first write, after the lead was read (SQLAlchemy's documented
    recipe for pysqlite)."""
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None


def _busy_timeout(raw: sqlite3.Connection, conn: Connection, ms: int) -> None:
    """Set how long the writer waits for SQLite's lock: a PRAGMA on the driver's connection
    only when it changes (not a statement of the unit, so not counted as one)."""
    if conn.info.get("busy_timeout") != ms:
        raw.execute(f"PRAGMA busy_timeout={ms}")
        conn.info["busy_timeout"] = ms


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    """No JIT for leadbot's sessions: on the reports' grouped scans (100k leads) PostgreSQL
    spent longer compiling (0.56 s) than running them (0.45 s), and the bot's own statements
    are far below JIT's threshold anyway. A SET once per connection, not a startup parameter,
    so connection poolers that refuse unknown startup parameters (PgBouncer) still work."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET jit = off")
    cursor.close()
    # The SET opened the driver adapter's transaction; it must not stay open into the
    # connection's first unit of work (``Database._transact_asyncpg``). The setting stays.
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
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
