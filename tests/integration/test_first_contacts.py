"""A first contact skips its read once the known leads are loaded (PostgreSQL,
``storage.first_contacts``), and a wrong guess costs a retry, never a duplicate lead."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from app.maintenance import Maintenance
from bot.engine.types import Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from bot.service.ports import UpdateMark, current_update
from fakes.channels import Collect
from storage.db import Database
from storage.first_contacts import KnownLeads
from storage.leads import EVENTS, LEADS
from tests.conftest import Clock
from tests.integration.test_statement_counts import EXPECTED_LOG, counted


@pytest.fixture
def pg(db: Database) -> Database:
    if db.known_leads is None:
        pytest.skip("only PostgreSQL's optimistic units guess (SQLite reads in-process)")
    return db


async def _handle(service: FunnelService, key: LeadKey, update: Any, chat: Collect, n: int) -> int:
    """Handle one update as the dispatcher does (its id recorded); the statements it ran."""
    token = current_update.set(UpdateMark(n, "here", timedelta(seconds=20)))
    try:
        with counted(service.db) as (statements, _):
            await service.handle(key, update, chat)
    finally:
        current_update.reset(token)
    return len(statements)


async def _rows(db: Database, user_id: int) -> tuple[int, list[str]]:
    async with db.engine.connect() as conn:
        leads = (
            await conn.execute(
                select(func.count()).select_from(LEADS).where(LEADS.c.user_id == user_id)
            )
        ).scalar_one()
        types = (
            await conn.execute(
                select(EVENTS.c.type)
                .join(LEADS, LEADS.c.id == EVENTS.c.lead_id)
                .where(LEADS.c.user_id == user_id)
                .order_by(EVENTS.c.id)
            )
        ).scalars()
        return int(leads), list(types)


async def test_a_first_contact_is_one_statement(pg: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(pg, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await _handle(service, LeadKey("telegram", 1), Start(first_name="Old"), chat, 1)
    assert await _handle(service, LeadKey("telegram", 2), Start(first_name="A"), chat, 2) == 2
    assert await pg.load_known_leads() == 2
    # Someone new: no read, the lead inserted with the rest in one statement.
    key = LeadKey("telegram", 3)
    assert await _handle(service, key, Start(first_name="Ann"), chat, 3) == 1
    assert await _handle(service, key, chat.press("Buy now"), chat, 4) == 2  # now known: read
    assert await _rows(pg, 3) == (1, EXPECTED_LOG)
    # Leads there before the load are read, as their state matters.
    assert await _handle(service, LeadKey("telegram", 1), Start(first_name="Old"), chat, 5) == 2


async def test_a_lead_made_behind_its_back_is_read_on_the_retry(
    pg: Database, mini: Funnel, clock: Clock
) -> None:
    """Another process made the lead after the load: the guess "never seen" is wrong, the
    one statement fails as a whole, and the update runs again on the lead that is there."""
    service = FunnelService(pg, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    await pg.load_known_leads()
    other = Database(pg.url.render_as_string(hide_password=False))  # another instance
    key = LeadKey("telegram", 77)
    try:
        await FunnelService(other, ScenarioHolder(mini), OfflineQualifier(), clock).handle(
            key, Start(first_name="Ann"), chat
        )
    finally:
        await other.close()
    # A press of "Buy now" only means something to the lead at its first question: had it
    # run on a blank state (the guess) it would be a /start-less stray press.
    statements = await _handle(service, key, chat.press("Buy now"), chat, 1)
    assert statements == 3  # the failed guess, then the locking way: read, write
    assert chat.sent[-1].text == "Your budget?"
    assert await _rows(pg, 77) == (1, EXPECTED_LOG)
    # The retry's read taught it: the next update reads at once.
    assert await _handle(service, key, Text("twelve"), chat, 2) == 2


async def test_nothing_is_guessed_before_the_load() -> None:
    known = KnownLeads()
    assert not known.sight("telegram", 1)  # nothing loaded: every lead is read
    assert not known.ready


async def test_a_failed_load_is_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    """The database away at start: the bot logs one line a person understands, keeps
    reading every lead meanwhile, and loads the known leads once the database is back."""
    calls: list[str] = []

    class Flaky:
        async def load_known_leads(self) -> int:
            calls.append("load")
            if len(calls) < 3:
                raise ConnectionRefusedError("connection refused")
            return 5

    upkeep = cast(Any, SimpleNamespace(service=SimpleNamespace(db=Flaky())))
    await Maintenance.load_known_leads(upkeep, first_retry=0.01)
    assert calls == ["load"] * 3
    lines = [r.getMessage() for r in caplog.records if "known leads" in r.getMessage()]
    assert len(lines) == 2 and "ConnectionRefusedError: connection refused" in lines[0], lines
