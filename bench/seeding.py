"""Databases for the benchmarks, and fast seeding: one lead walked through the real
service, then cloned in bulk with SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot.engine.types import Contact, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.models import Lead, UTCDateTime

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini.yaml"
TIMEZONE = "Europe/Moscow"
#: The touch every drained lead gets (mini.yaml, the wait after the hot offer).
TOUCH_TEXT = "Here is a discount."
TEMPLATE_USERS = 9_000_000_000


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def postgres_database(base: str) -> AsyncIterator[str]:
    """A throw-away database on the server of ``base``; dropped afterwards."""
    name = f"leadbot_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(base).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def load_mini() -> Funnel:
    return load_funnel(MINI, TIMEZONE)


@dataclass
class Templates:
    """Template leads (ids) in the database, and the button a ``question`` lead may press."""

    touch: int  # at hot-2 (the wait after the offer), its touch pending
    question: int  # at q_need, a question with buttons
    typed: int  # at q_about, a question answered by typing
    press_data: str  # callback data of "Buy now" for a clone of ``question``


async def make_templates(db: Database, funnel: Funnel) -> Templates:
    """Walk three leads through the real service so their rows are what the engine wrote."""
    service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier())
    ids = []
    press_data = ""
    for n, script in enumerate(("touch", "question", "typed")):
        key = LeadKey("telegram", TEMPLATE_USERS + n)
        chat = Collect()
        await service.handle(key, Start(first_name="Ann"), chat)
        if script == "question":
            press_data = chat.press("Buy now").data
        else:
            await service.handle(key, chat.press("Buy now"), chat)
            await service.handle(key, chat.press("Big"), chat)
            if script == "touch":
                await service.handle(key, Text("We want to buy two machines"), chat)
                await service.handle(key, Contact("+79991234567"), chat)
        async with db.session() as session:
            lead = (
                await session.execute(
                    text("SELECT id, step FROM leads WHERE channel = 'telegram' AND user_id = :u"),
                    {"u": key.user_id},
                )
            ).one()
        expected = {"touch": "hot-2", "question": "q_need", "typed": "q_about"}[script]
        if lead.step != expected:
            raise RuntimeError(f"template {script}: at {lead.step}, expected {expected}")
        ids.append(lead.id)
    touch, question, typed = ids
    return Templates(touch, question, typed, press_data)


_LEAD_COLUMNS = [c.name for c in Lead.__table__.columns if c.name not in ("id", "user_id")]


async def clone(
    db: Database,
    template: int,
    first_user: int,
    count: int,
    *,
    due: datetime | None = None,
    later: datetime | None = None,
    due_every: int = 1,
) -> None:
    """``count`` copies of lead ``template`` (users ``first_user``…), answers and touches too.

    The template's pending touches are copied with ``due_at = due`` for every ``due_every``-th
    lead and ``later`` for the others (both default to the template's own due time).
    """
    last_user = first_user + count - 1
    cols = ", ".join(_LEAD_COLUMNS)
    tcols = ", ".join(f"t.{c}" for c in _LEAD_COLUMNS)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last)"
                f" INSERT INTO leads (user_id, {cols}) SELECT :first + n.i, {tcols}"
                " FROM n, leads t WHERE t.id = :template"
            ),
            {"last": count - 1, "first": first_user, "template": template},
        )
        mine = "l.channel = 'telegram' AND l.user_id BETWEEN :first AND :last_user"
        who = {"first": first_user, "last_user": last_user}
        # The template's answers and touches are read first and inserted as constants: a join
        # against a table being filled makes PostgreSQL's planner (no statistics yet) rescan
        # it for every lead, which is quadratic.
        answers = (
            await conn.execute(
                text(
                    "SELECT key, question, answer, created_at FROM answers WHERE lead_id = :t"
                ).columns(created_at=UTCDateTime()),
                {"t": template},
            )
        ).all()
        for key, question, answer, created_at in answers:
            await conn.execute(
                text(
                    "INSERT INTO answers (lead_id, key, question, answer, created_at)"
                    f" SELECT l.id, :key, :question, :answer, :created FROM leads l WHERE {mine}"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {"key": key, "question": question, "answer": answer, "created": created_at, **who},
            )
        # The newest event too, so the lead does not look idle (win-back rules read events).
        last = (
            await conn.execute(
                text(
                    "SELECT type, step, payload, scenario_version, variant, created_at"
                    " FROM events WHERE lead_id = :t ORDER BY id DESC LIMIT 1"
                ).columns(created_at=UTCDateTime()),
                {"t": template},
            )
        ).first()
        if last is not None:
            await conn.execute(
                text(
                    "INSERT INTO events (lead_id, type, step, payload, scenario_version, variant,"
                    " created_at) SELECT l.id, :type, :step, :payload, :version, :variant,"
                    f" :created FROM leads l WHERE {mine}"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {
                    "type": last.type,
                    "step": last.step,
                    "payload": last.payload
                    if isinstance(last.payload, str)
                    else json.dumps(last.payload),
                    "version": last.scenario_version,
                    "variant": last.variant,
                    "created": last.created_at,
                    **who,
                },
            )
        touches = (
            await conn.execute(
                text(
                    "SELECT due_at, step, token, kind, created_at FROM scheduled_touches"
                    " WHERE lead_id = :t AND state = 'pending'"
                ).columns(due_at=UTCDateTime(), created_at=UTCDateTime()),
                {"t": template},
            )
        ).all()
        for own_due, step, token, kind, created_at in touches:
            first = due or own_due
            due_at = "CASE WHEN (l.user_id - :first) % :every = 0 THEN :due ELSE :later END"
            await conn.execute(
                text(
                    "INSERT INTO scheduled_touches (lead_id, due_at, step, token, kind, state,"
                    f" attempts, created_at) SELECT l.id, {due_at}, :step, :token, :kind,"
                    f" 'pending', 0, :created FROM leads l WHERE {mine}"
                ).bindparams(
                    bindparam("due", type_=UTCDateTime()),
                    bindparam("later", type_=UTCDateTime()),
                    bindparam("created", type_=UTCDateTime()),
                ),
                {
                    "due": first,
                    "later": later or first,
                    "every": due_every,
                    "step": step,
                    "token": token,
                    "kind": kind,
                    "created": created_at,
                    **who,
                },
            )


async def drop_templates(db: Database, templates: Templates) -> None:
    async with db.engine.begin() as conn:
        for table in ("events", "answers", "scheduled_touches"):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE lead_id IN (:a, :b, :c)"),
                {"a": templates.touch, "b": templates.question, "c": templates.typed},
            )
        await conn.execute(
            text("DELETE FROM leads WHERE id IN (:a, :b, :c)"),
            {"a": templates.touch, "b": templates.question, "c": templates.typed},
        )
        await conn.execute(text("ANALYZE"))


async def template_events(conn: AsyncConnection, template: int) -> Sequence[Row[Any]]:
    """The template lead's whole event history, oldest first, to be copied onto clones."""
    query = text(
        "SELECT type, step, payload, scenario_version, variant, created_at"
        " FROM events WHERE lead_id = :t ORDER BY id"
    ).columns(created_at=UTCDateTime())
    return (await conn.execute(query, {"t": template})).all()


async def copy_history(db: Database, template: int, first_user: int, count: int) -> int:
    """Give clones ``first_user``… the template's whole event history (not just the newest
    event): a realistic lead log for the reading side. Returns events per lead."""
    mine = "l.channel = 'telegram' AND l.user_id BETWEEN :first AND :last_user"
    who = {"first": first_user, "last_user": first_user + count - 1}
    async with db.engine.begin() as conn:
        events = await template_events(conn, template)
        await conn.execute(
            text(f"DELETE FROM events WHERE lead_id IN (SELECT l.id FROM leads l WHERE {mine})"),
            who,
        )
    # A transaction per event of the history, as the bot writes them (``lead_log``'s
    # reason): PostgreSQL cannot prune the versions of a ``lead_reach`` row that its own open
    # transaction keeps updating, and one transaction for the whole history took ~30 s a
    # statement at 10k leads.
    for e in events:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO events (lead_id, type, step, payload, scenario_version, variant,"
                    " created_at) SELECT l.id, :type, :step, :payload, :version, :variant,"
                    f" :created FROM leads l WHERE {mine}"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {
                    "type": e.type,
                    "step": e.step,
                    "payload": e.payload if isinstance(e.payload, str) else json.dumps(e.payload),
                    "version": e.scenario_version,
                    "variant": e.variant,
                    "created": e.created_at,
                    **who,
                },
            )
    await vacuum_lead_reach(db)
    return len(events)


async def vacuum_lead_reach(db: Database) -> None:
    """PostgreSQL: what autovacuum does between a real log's bursts (the trigger's updates
    of ``lead_reach`` leave a dead row version per event); nothing on SQLite."""
    if db.is_sqlite:
        return
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM lead_reach"))


async def settle(db: Database) -> None:
    """After seeding, before anything is timed: the housekeeping a running database has long
    done by then. PostgreSQL: VACUUM and ANALYZE every table and a CHECKPOINT (else
    autovacuum wakes up within the minute to vacuum the freshly inserted rows, and the
    checkpointer writes them out, on the two cores the bots are measured on); SQLite: the
    seeding's write-ahead log checkpointed into the file."""
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if db.is_sqlite:
            await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return
        await auto.execute(text("VACUUM (ANALYZE)"))
        # CHECKPOINT needs a superuser or pg_checkpoint; without it the VACUUM has done most.
        with suppress(DBAPIError):
            await auto.execute(text("CHECKPOINT"))
