"""Statements and transactions an update costs, counted in the benchmark's own process.

Benchmark 3 times ``leadbot run`` in a process of its own, where nothing can count its SQL;
so an untimed pass runs the dispatcher and service ``leadbot run`` builds in the
benchmark's process and counts, with SQLAlchemy's events, what runs while an update is
being handled: ``mark_updates`` flags each update's task (a context variable, so the touch
loop, the heartbeats and the benchmark's own seeding are left out).
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy import event

from storage.db import Database

_IN_UPDATE: contextvars.ContextVar[bool] = contextvars.ContextVar("in_update", default=False)


def mark_updates(dp: Dispatcher) -> None:
    """Flag every update ``dp`` handles, for ``counting``."""
    feed = dp.feed_update

    async def feed_marked(bot: Bot, update: Update, **kwargs: Any) -> Any:
        _IN_UPDATE.set(True)  # this update's task only: its context is its own
        return await feed(bot, update, **kwargs)

    dp.feed_update = feed_marked  # type: ignore[method-assign]


@contextmanager
def counting(db: Database) -> Iterator[Counter[str]]:
    """Statements and transactions run while an update is being handled, and each
    statement's first words (``statement: INSERT INTO events``)."""
    counts: Counter[str] = Counter()

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        # SQLite's writer says BEGIN IMMEDIATE itself; PostgreSQL's BEGIN is no statement
        # the driver shows either, so both count as the transaction, not as a statement.
        if _IN_UPDATE.get() and not sql.startswith("BEGIN"):
            counts["statements"] += 1
            counts["statement: " + " ".join(sql.split()[:3])] += 1

    def begin(*_: Any) -> None:
        if _IN_UPDATE.get():
            counts["transactions"] += 1

    for engine in db.sync_engines:  # SQLite's writer thread has an engine of its own
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "begin", begin)
    try:
        yield counts
    finally:
        for engine in db.sync_engines:
            event.remove(engine, "before_cursor_execute", statement)
            event.remove(engine, "begin", begin)


def per_update(counts: Counter[str], updates: int) -> dict[str, Any]:
    """``counting``'s figures per update."""
    per = max(updates, 1)
    which = {k: round(n / per, 2) for k, n in sorted(counts.items()) if k.startswith("statement:")}
    return {
        "statements": counts["statements"] / per,
        "transactions": counts["transactions"] / per,
        "answered": updates,
        "which": which,
    }
