"""Engine and session factory, the unit of work's transaction, and running migrations."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from storage.first_contacts import KnownLeads
from storage.prepared import on_driver
from storage.sqlite import BUSY_TIMEOUT_MS, SqliteWriter, reader_connect, sqlite_pragmas

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")
log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0014"  # the newest migration; reading commands refuse an older schema
#: SQLite file: the pooled (aiosqlite) connections kept open while idle. The hot path
#: writes through the one writer connection; the pool serves the touch loop's claims,
#: reports and the staff's commands, and each of its connections holds a thread and a page
#: cache of its own: SQLAlchemy's five idle ones were 2.4 MB of the bot's resident memory
#: (benchmark 5). Busy moments still open up to ``max_overflow`` (10) more.
READER_POOL_SIZE = 1
#: PostgreSQL: connections kept open. The dispatcher runs up to 16 updates at once
#: (``app.runner.CONCURRENT_UPDATES``), each holding a connection for its transaction, and
#: the touch loop, heartbeats and staff commands need theirs: an overflow connection is
#: closed when it comes back, so a smaller pool opened and closed connections all through a
#: burst (asyncpg connects and server forks in the profile of benchmark 3).
POSTGRES_POOL_SIZE = 20
#: The execution option ``transact`` sets for an optimistic attempt (``storage.unit``).
OPTIMISTIC = "leadbot_optimistic"
#: The execution option carrying ``Database.known_leads`` to the unit of work (PostgreSQL).
KNOWN_LEADS = "leadbot_known_leads"


class NeedsTransaction(Exception):
    """An optimistic unit of work cannot go on without a transaction; nothing was written.
    ``Database.transact`` runs the work again in one."""


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
            pragmas = reader_connect if sqlite_file else sqlite_pragmas
            event.listen(self.engine.sync_engine, "connect", pragmas)
        elif self.url.get_backend_name() == "postgresql":
            event.listen(self.engine.sync_engine, "connect", _postgres_settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL: who surely has no lead yet, so a first contact skips its read
        # (``storage.first_contacts``); filled by ``load_known_leads``.
        self.known_leads: KnownLeads | None = None
        if self.url.get_backend_name() == "postgresql":
            self.known_leads = KnownLeads()
        # SQLite file: the units of work (``transact``) run on one writer connection of the
        # plain sqlite3 driver (``storage.sqlite.SqliteWriter``).
        self.sqlite_writer: SqliteWriter | None = None
        if sqlite_file:
            self.sqlite_writer = SqliteWriter(self.url, echo)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def load_known_leads(self) -> int:
        """Fill ``known_leads`` (PostgreSQL; elsewhere nothing to do): ``leadbot run`` starts
        it in the background, and first contacts are read until it is done."""
        if self.known_leads is None:
            return 0
        return await self.known_leads.load(self.engine)

    @property
    def writer(self) -> Engine | None:
        """The SQLite writer's engine (None elsewhere)."""
        return self.sqlite_writer.engine if self.sqlite_writer is not None else None

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
        free, in the transaction the loop turn's units share; else in the writer thread:
        ``storage.sqlite``), on PostgreSQL in asyncpg's own transaction
        (``_transact_asyncpg``), elsewhere through the async driver (``run_sync``).
        """
        if self.sqlite_writer is not None:
            return await self.sqlite_writer.transact(work)
        if self.url.get_backend_name() == "postgresql":
            if optimistic:
                try:
                    return await self._attempt_asyncpg(work)
                except NeedsTransaction as exc:
                    log.debug("an optimistic unit of work runs again in a transaction: %s", exc)
            return await self._transact_asyncpg(work)
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def _attempt_asyncpg(self, work: Callable[[Connection], T]) -> T:
        """PostgreSQL without BEGIN and COMMIT: each statement ``work`` runs commits on its
        own, and an optimistic unit runs one read and one checked write (``storage.unit``)."""
        return await greenlet_spawn(self._attempt_sync, work)

    async def _transact_asyncpg(self, work: Callable[[Connection], T]) -> T:
        """PostgreSQL: the transaction is asyncpg's own (BEGIN and COMMIT straight on the
        driver, as the unit's statements are, ``storage.prepared``). SQLAlchemy's transaction
        inside it keeps SQLAlchemy's books and events; a statement that does go through
        SQLAlchemy (a rare path of the unit) makes its asyncpg adapter open a savepoint in
        ours, released when SQLAlchemy's transaction commits, before ours does."""
        return await greenlet_spawn(self._transact_sync, work)

    # Both PostgreSQL paths run whole (the pool's checkout, the unit, the connection's return)
    # in one greenlet of SQLAlchemy's own bridge (``greenlet_spawn``, what ``run_sync`` uses)
    # rather than through ``AsyncConnection``, whose every call (connect, the raw connection,
    # execution options, begin, ``run_sync``, commit, close) spawns a greenlet of its own:
    # five an optimistic ``/start``, each an mmap and munmap of a Python frame stack in
    # CPython 3.11 (strace of benchmark 3's ``leadbot run``), ~10 µs apiece. Driver calls
    # inside are awaited through ``storage.prepared.on_driver``.

    def _attempt_sync(self, work: Callable[[Connection], T]) -> T:
        with self.engine.sync_engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            if driver.is_in_transaction():
                raise NeedsTransaction("the connection is in a transaction")
            conn.execution_options(**{OPTIMISTIC: True, KNOWN_LEADS: self.known_leads})
            try:
                return work(conn)
            except BaseException:
                if driver.is_closed():  # the server went away: SQLAlchemy's pool must know
                    conn.invalidate()
                raise

    def _transact_sync(self, work: Callable[[Connection], T]) -> T:
        with self.engine.sync_engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            conn.execution_options(**{KNOWN_LEADS: self.known_leads})
            if driver.is_in_transaction():
                # Someone left the adapter's own transaction open on this connection: ours
                # would be nested in it and end before it. SQLAlchemy's way is always right.
                with conn.begin():
                    return work(conn)
            try:
                ours = on_driver("BEGIN", (), lambda: _begun(driver))
                try:
                    with conn.begin():
                        result = work(conn)
                except BaseException:
                    on_driver("ROLLBACK", (), ours.rollback)
                    raise
                on_driver("COMMIT", (), ours.commit)
                return result
            except BaseException:
                if driver.is_closed():  # the server went away: SQLAlchemy's pool must know
                    conn.invalidate()
                raise

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
        if self.sqlite_writer is not None:
            await self.sqlite_writer.close()


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


async def _begun(driver: Any) -> Any:
    """asyncpg's own transaction on ``driver``, begun."""
    transaction = driver.transaction()
    await transaction.start()
    return transaction


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
