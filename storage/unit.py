"""One engine run's reads and writes: the hot path of every update, on a sync ``Connection``.

``Database.transact`` runs a unit of work as one plain function: on SQLite on the one writer
connection (on the loop's thread while SQLite's lock is free, else in the writer thread; no
two writers contend for the lock), on PostgreSQL in asyncpg's own transaction, from the
greenlet of SQLAlchemy's ``run_sync``. So the statements here are Core, built once at import
and compiled once (``storage.prepared`` runs them straight on the driver), and nothing here
awaits. Everything else about leads and touches stays in the
``LeadRepo`` / ``TouchRepo`` repositories, which call into this module for the shared writes.

On PostgreSQL the writes nobody reads back (the lead row, answers, events, timers, and the
"update handled" record, checked when it lands) wait in the unit and go as one statement
(``storage.batch``) when it finishes: BEGIN, the lead's SELECT, that statement, COMMIT.

An update that needs nothing read back before its end (a typed answer, a press, a /start:
everything but a touch firing and a payment) is first tried *optimistically*
(``Database.transact(..., optimistic=True)``): no BEGIN and no COMMIT, two round trips in
all. The lead is read without a lock, with its row version (``xmin``), and the one statement
lands only if the row is still that version (a new lead: only if nobody inserted it
meanwhile) and the update was not handled already; otherwise it fails as a whole
(``storage.batch``); someone surely never seen is not read (``storage.first_contacts``).
Anything the optimistic unit cannot do that way (a statement whose result it needs now, a
write that must land before another) raises ``NeedsTransaction`` before any write, and the
update runs again the locking way above.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import UpdateBase

from bot.engine.types import LeadState
from bot.vocabulary import RESUME_KIND, OrderKind, TouchState
from storage.batch import Batch, Part
from storage.db import KNOWN_LEADS, OPTIMISTIC, NeedsTransaction
from storage.first_contacts import KnownLeads
from storage.leads import (
    EventRow,
    LeadRace,
    event_values,
    state_from_row,
    state_values,
)
from storage.prepared import Prepared, prepare
from storage.subscriptions import record_payment
from storage.unit_statements import (
    BEATING,
    CANCEL_PENDING,
    CLOSE_WORK,
    INSERT_ORDER,
    INSERT_TOUCH,
    LOAD,
    MARK_SENDING,
    MARK_SENDING_IN_LEASE,
    PEEK,
    UPDATE_LEAD,
    UPDATE_SEEN,
    UPDATES,
    answer_part,
    cancel_part,
    close_part,
    event_part,
    events_insert,
    lead_part,
    new_lead_part,
    seen_part,
    touch_part,
    upserts_for,
)

_UNSET = object()


class Unit:
    """The statements of one update, inside the transaction ``Database.transact`` opened.

    Callers end a unit with ``finish()``: on PostgreSQL that is when the deferred writes
    land (see the module's docstring); elsewhere every write has run by then.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        # Statements go straight to the driver (``storage.prepared``) on SQLite's writer
        # connection and on asyncpg inside the transaction ``Database.transact`` began on it;
        # anywhere else (aiosqlite, a connection without that transaction) through SQLAlchemy.
        self.raw: sqlite3.Connection | None = None
        self.driver: Any = None  # asyncpg's connection
        # PostgreSQL outside a transaction, asked for by ``Database.transact``: see the
        # module's docstring. The lead's id once a new lead's row landed (``finish``).
        self.optimistic = False
        self.new_id: int | None = None
        self._read_xmin: str | None = None
        self.known: KnownLeads | None = conn.get_execution_options().get(KNOWN_LEADS)
        if self.postgres:
            driver = conn.connection.driver_connection
            if driver is not None and driver.is_in_transaction():
                self.driver = driver
            elif driver is not None and conn.get_execution_options().get(OPTIMISTIC):
                self.driver, self.optimistic = driver, True
        else:
            dbapi = conn.connection.dbapi_connection
            self.raw = dbapi if isinstance(dbapi, sqlite3.Connection) else None
        self.upserts = upserts_for(conn.dialect.name)
        # PostgreSQL only: the writes waiting for ``finish``, and the update being recorded.
        self._batch = Batch()
        self._seen: tuple[int, str, datetime, timedelta] | None = None
        self._repeat = False
        self._loaded: dict[int, Any] = {}  # SQLite: the lead rows as ``load`` read them

    def _prepared(self, statement: Executable, params: Mapping[str, Any]) -> Prepared | None:
        if self.raw is None and self.driver is None:
            return None
        # Compiled for the parameters' keys, as SQLAlchemy's own execution compiles it.
        keys = tuple(sorted(params)) if isinstance(statement, UpdateBase) else None
        prepared = prepare(statement, keys, self.conn.dialect)
        if prepared is None and self.optimistic:
            # Through SQLAlchemy, its asyncpg adapter would open a transaction of its own,
            # never committed here: the write would vanish when the connection goes back.
            raise NeedsTransaction("a statement only SQLAlchemy can run")
        return prepared

    def _run(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """Execute now: on the driver when the statement can be (``storage.prepared``), else
        through SQLAlchemy. Results have ``rowcount``; rows come from ``_rows``."""
        prepared = self._prepared(statement, params)
        if prepared is not None:
            if self.raw is not None:
                return prepared.run(self.conn, self.raw, params)
            return prepared.run_async(self.conn, self.driver, params)
        return self.conn.execute(statement, params)

    def _rows(self, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
        """The rows of a SELECT or RETURNING, with attribute access."""
        prepared = self._prepared(statement, params)
        if prepared is not None:
            if self.raw is not None:
                return prepared.rows(prepared.run(self.conn, self.raw, params))
            rows: list[Any] = prepared.run_async(self.conn, self.driver, params)
            return rows
        return list(self.conn.execute(statement, params).all())

    # --- deferred writes (PostgreSQL) ------------------------------------------------------

    def _defer(self, part: Part) -> None:
        if not self._batch.fits(part):
            if self.optimistic:  # two statements would not be one atomic write
                raise NeedsTransaction("writes that must land one after another")
            self._flush()
        self._batch.parts.append(part)

    def _flush(self) -> None:
        """Write what waits, in one statement (with the update's "handled" record)."""
        seen, self._seen = self._seen, None
        if seen is None and not self._batch:
            return
        counted = None
        if seen is not None:
            update_id, instance, now, _stale = seen
            values = {"update_id": update_id, "instance": instance, "done": True, "seen_at": now}
            counted = Part("processed_updates", seen_part, values)
        stmt, params = self._batch.take(counted)
        if self.optimistic:
            self._land_checked(stmt, params)
        elif seen is None:
            self._run(stmt, params)
        elif not self._rows(stmt, params)[0][0]:  # the "handled" record was there already
            self._repeat = not self._take_over(*seen)

    def _land_checked(self, stmt: Executable, params: Mapping[str, Any]) -> None:
        """An optimistic unit's one statement: it fails as a whole when the lead changed
        since it was read, or the update was handled already (``storage.batch``)."""
        try:
            rows = self._rows(stmt, params)
        except DBAPIError as exc:
            from asyncpg import PostgresError  # only PostgreSQL units are optimistic

            if isinstance(exc.orig, PostgresError):  # the statement's check, or its data
                raise NeedsTransaction(str(exc.orig)) from exc
            raise
        self.new_id = int(rows[0][0])

    def _sync(self) -> None:
        """Before a statement whose result is needed now: what waits goes first."""
        if self.optimistic:
            raise NeedsTransaction("a statement whose result is needed at once")
        if self._batch:
            self._flush()

    def finish(self) -> bool:
        """Land every deferred write; False if the update was handled already (roll back)."""
        self._flush()
        return not self._repeat

    # --- the update itself ---------------------------------------------------------------

    def handled(self, update_id: int, instance: str, now: datetime, stale: timedelta) -> bool:
        """Record a Telegram update as handled, with the effects it commits along.

        False for a repeat: the update was handled already, or is being handled by another
        live instance. An earlier taker that died before finishing it is taken over.
        """
        inserted = self._run(
            self.upserts.update_seen,
            {"update_id": update_id, "instance": instance, "done": True, "seen_at": now},
        )
        return bool(inserted.rowcount) or self._take_over(update_id, instance, now, stale)

    def record_update(self, update_id: int, instance: str, now: datetime, stale: timedelta) -> bool:
        """``handled`` for an update whose engine run follows in this unit. On PostgreSQL the
        record goes with the deferred writes and ``finish`` gives the verdict (a repeat is
        rare; its run is rolled back); False here means a repeat known already."""
        if not self.postgres:
            return self.handled(update_id, instance, now, stale)
        self._seen = (update_id, instance, now, stale)
        return True

    def _take_over(self, update_id: int, instance: str, now: datetime, stale: timedelta) -> bool:
        """The update was recorded already: ours only if its taker died before finishing."""
        row = self.conn.execute(UPDATE_SEEN, {"update_id": update_id}).first()
        if row is None or row.done:
            return False
        if row.instance != instance:
            beating = {"instance": row.instance, "since": now - stale}
            if self.conn.execute(BEATING, beating).first() is not None:
                return False
        self.conn.execute(
            update(UPDATES)
            .where(UPDATES.c.update_id == update_id)
            .values(done=True, instance=instance, seen_at=now)
        )
        return True

    # --- the lead --------------------------------------------------------------------------

    def load(self, channel: str, user_id: int) -> tuple[int | None, LeadState]:
        """The lead with its answers (row locked) as the engine's state, in one statement.

        A first contact has no row yet (id None, a blank state): ``store`` inserts it with
        the state the engine gives it, rather than inserting a blank row and updating it.
        """
        never = self.known is not None and self.known.sight(channel, user_id)
        if never and self.optimistic:  # a wrong guess fails the one statement (``finish``)
            return None, LeadState()
        load = PEEK if self.optimistic else LOAD
        rows = self._rows(load, {"channel": channel, "user_id": user_id})
        if not rows:
            return None, LeadState()
        answers = {r.answer_key: r.answer_value for r in rows if r.answer_key is not None}
        if self.optimistic:
            self._read_xmin = rows[0].read_xmin
        elif not self.postgres:
            self._loaded[rows[0].id] = rows[0]._asdict()
        return rows[0].id, state_from_row(rows[0], answers)

    def store(
        self,
        lead_id: int | None,
        key: tuple[str, int],
        state: LeadState,
        now: datetime,
        version: str,
    ) -> int:
        """Write back what ``load`` gave after the engine moved it; returns the lead's id.

        Raises ``LeadRace`` when a new lead was created meanwhile by someone else (nothing
        of this run is written then; the caller loads again and reruns).
        """
        values = state_values(state, now, version)
        if lead_id is not None:
            if self.optimistic:
                values.update(the_lead=lead_id, read_xmin=self._read_xmin)
                self._defer(Part("leads", lead_part, values, True, guard=True))
            elif self.postgres:
                self._defer(Part("leads", lead_part, {"the_lead": lead_id, **values}, True))
            else:
                # Only the columns that changed: SQLite rewrites an index entry for every
                # indexed column in the SET list, changed or not (five on ``leads``), while a
                # typed answer changes none of them (benchmark 3: ~25 WAL pages a commit).
                # PostgreSQL compares values itself (HOT updates), so it keeps one shape.
                before = self._loaded.get(lead_id)
                if before is not None:
                    values = {k: v for k, v in values.items() if before.get(k, _UNSET) != v}
                self._run(UPDATE_LEAD, {"the_lead": lead_id, **values})
            return lead_id
        channel, user_id = key
        values.update(channel=channel, user_id=user_id, created_at=now)
        if self.optimistic:  # the id comes with the statement (``finish``); 0 until then
            self._defer(Part("leads", new_lead_part, values, guard=True, new_lead=True))
            return 0
        self._sync()
        inserted = self._rows(self.upserts.new_lead, values)
        if not inserted:
            raise LeadRace(f"{channel}:{user_id}")
        return int(inserted[0].id)

    def save_answer(self, lead_id: int, key: str, question: str, value: str, now: datetime) -> None:
        """One upsert: a re-answer replaces the earlier one (same key, same row)."""
        row = dict(lead_id=lead_id, key=key, question=question, answer=value, created_at=now)
        if self.postgres:
            self._defer(Part("answers", answer_part, row, changes_rows=True))
        else:
            self._run(self.upserts.answer, row)

    def insert_events(
        self,
        lead_id: int,
        events: Iterable[EventRow],
        now: datetime,
        version: str | None = None,
    ) -> None:
        """All of an update's events in one INSERT (no RETURNING: nobody needs the ids)."""
        rows = event_values(lead_id, events, now, version)
        if self.postgres:
            # One part per row, each after the one before: SQLAlchemy caches no multi-row
            # VALUES, and an update has 1-3.
            for row in rows:
                self._defer(Part("events", event_part, row, ordered=True))
        elif rows:
            self._run(*events_insert(rows))

    def add_order(
        self,
        lead_id: int,
        step: str,
        tier: str,
        title: str,
        amount: Decimal,
        currency: str,
        charge_id: str,
        now: datetime,
        kind: str = OrderKind.ONE_OFF,
    ) -> None:
        self._sync()
        self._run(
            INSERT_ORDER,
            {
                "lead_id": lead_id,
                "offer_step": step,
                "tier": tier,
                "title": title[:200],
                "amount": amount,
                "currency": currency,
                "charge_id": charge_id[:128],
                "paid_at": now,
                "kind": str(kind),
            },
        )

    def record_subscription(
        self,
        lead_id: int,
        step: str,
        title: str,
        amount: Decimal,
        currency: str,
        charge_id: str,
        expires_at: datetime | None,
        renewal: bool,
        now: datetime,
    ) -> None:
        self._sync()
        record_payment(
            self.conn, lead_id, step, title, amount, currency, charge_id, expires_at, renewal, now
        )

    # --- its touches -----------------------------------------------------------------------

    def mark_sending(self, touch_id: int, now: datetime | None = None) -> bool:
        """Claimed → sending; False if the claim was lost meanwhile (released as its
        instance's heartbeat seemed to stop, and perhaps run by another): then it must not go."""
        self._sync()
        stmt = MARK_SENDING if now is None else MARK_SENDING_IN_LEASE
        result = self._run(stmt, {"touch": touch_id, "at": now})
        return bool(result.rowcount)

    def cancel_pending(self, lead_id: int, now: datetime) -> None:
        """Cancel the lead's chain timers (a queued broadcast stays: it checks at send time)."""
        if self.postgres:
            values = {"of_lead": lead_id, "at": now}
            self._defer(Part("scheduled_touches", cancel_part, values, changes_rows=True))
        else:
            self._run(CANCEL_PENDING, {"of_lead": lead_id, "at": now})

    def schedule(
        self,
        lead_id: int,
        due: datetime,
        step: str,
        token: int,
        now: datetime,
        kind: str = "touch",
    ) -> None:
        self._insert_touch(
            {
                "lead_id": lead_id,
                "due_at": due,
                "step": step,
                "token": token,
                "kind": kind,
                "state": TouchState.PENDING,
                "attempts": 0,
                "created_at": now,
            },
        )

    def hold_work(
        self, lead_id: int, step: str, now: datetime, worker: str | None, lease: timedelta
    ) -> None:
        """Record work in progress for the lead (``RESUME_KIND``), claimed by ``worker``: if
        it dies, the claim is released and the touch resumes the work. Without a worker
        (no instance identity) it is simply due after ``lease``."""
        self._insert_touch(
            {
                "lead_id": lead_id,
                "due_at": now if worker else now + lease,
                "step": step,
                "token": 0,
                "kind": RESUME_KIND,
                "state": TouchState.CLAIMED if worker else TouchState.PENDING,
                "claimed_by": worker,
                "lease_until": now + lease if worker else None,
                "attempts": 0,
                "created_at": now,
            },
        )

    def close_work(self, lead_id: int) -> None:
        """The lead's work in progress came back: its resume records go (they were only
        ever a safety net, so they leave no trace in the lead's queue)."""
        if self.postgres:
            values = {"of_lead": lead_id}
            self._defer(Part("scheduled_touches", close_part, values, changes_rows=True))
        else:
            self._run(CLOSE_WORK, {"of_lead": lead_id})

    def _insert_touch(self, values: dict[str, Any]) -> None:
        if self.postgres:
            self._defer(Part("scheduled_touches", touch_part, values))
        else:
            self._run(INSERT_TOUCH, values)
