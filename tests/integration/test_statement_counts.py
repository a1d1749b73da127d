"""Statements per update kind: a count, not a timing, so it fails the same on any machine.

Each update is one transaction of a few statements (issue 15): the lead and its answers in
one SELECT, the lead row written once, an answer upserted, timers cancelled only when one is
pending, all events in one INSERT. A change that adds a round trip to a hot path fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from bot.engine.types import Input, LeadState, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.leads import LeadRace, LeadRepo
from tests.conftest import Clock

#: The most statements each update kind may take (SQLite and PostgreSQL alike).
BUDGET = {
    "start of a new lead": 3,  # SELECT lead+answers, INSERT lead, INSERT events
    "button press": 4,  # SELECT, UPDATE lead, upsert answer, INSERT events
    "button press that starts a timer": 5,  # … + INSERT the timer
    "text answer cancelling a timer": 5,  # … + UPDATE the pending timer
    "repeated /start": 3,  # SELECT, UPDATE lead, INSERT events
}


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_statements_per_update_kind(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    key = LeadKey("telegram", 4242)
    used: dict[str, int] = {}

    async def run(kind: str, update: Input) -> None:
        with counted(db) as statements:
            await service.handle(key, update, chat)
        used[kind] = len(statements)

    await run("start of a new lead", Start(first_name="Ann"))
    await run("button press", chat.press("Buy now"))
    await run("button press that starts a timer", chat.press("Big"))
    await run("text answer cancelling a timer", Text("We are twelve people"))
    await run("repeated /start", Start(first_name="Ann"))
    assert chat.sent[-1].text  # the updates did their work
    over = {k: (n, BUDGET[k]) for k, n in used.items() if n > BUDGET[k]}
    assert not over, f"statements per update grew (used, budget): {over}"


async def test_a_first_contact_raced_by_another_process_is_told(db: Database, clock: Clock) -> None:
    """Two processes saw no row for the same person: the second insert writes nothing and
    says so (the service then runs the update again on the row the first one made)."""
    key = ("telegram", 5151)
    async with db.session() as session, session.begin():
        first = await LeadRepo(session).store(None, key, LeadState(first_name="A"), clock(), "1")
    async with db.session() as session, session.begin():
        with pytest.raises(LeadRace):
            await LeadRepo(session).store(None, key, LeadState(first_name="B"), clock(), "1")
    async with db.session() as session:
        lead_id, state = await LeadRepo(session).load(*key)
    assert (lead_id, state.first_name) == (first, "A")
