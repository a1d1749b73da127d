"""Statements per update kind: a count, not a timing, so it fails the same on any machine.

Each Telegram update is one transaction of a few statements (issue 15): the update recorded
as handled, the lead and its answers in one SELECT, the lead row written once, an answer
upserted, timers cancelled only when one is pending, all events in one INSERT. A change that
adds a round trip or a transaction to a hot path fails here. SQLite's ``BEGIN IMMEDIATE``
(the writer takes its lock up front) is not counted: PostgreSQL's BEGIN is not a statement
the driver shows either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.engine.types import Input, LeadState, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from bot.service.ports import UpdateMark, current_update
from fakes.channels import Collect
from storage.db import Database
from storage.leads import LeadRace, LeadRepo
from storage.unit import Unit
from tests.conftest import Clock

#: The most statements each update kind may take, each in one transaction. SQLite (in
#: process, no round trips): every one starts with the INSERT recording the update as
#: handled. PostgreSQL: the lead's SELECT, then every write in one statement of CTEs with the
#: "handled" record (``storage.batch``), with no BEGIN or COMMIT around them: the statement
#: lands only if the lead row is the version read (``storage.unit``, optimistic units); a new
#: lead's INSERT is one of its parts, and the others take the id from its RETURNING. With the
#: known leads loaded, as ``leadbot run`` has them, someone never seen is not read at all
#: (``storage.first_contacts``).
BUDGET = {
    "sqlite": {
        "start of a new lead": 4,  # update, SELECT lead+answers, INSERT lead, INSERT events
        "button press": 5,  # update, SELECT, UPDATE lead, upsert answer, INSERT events
        "button press that starts a timer": 6,  # … + INSERT the timer
        "text answer cancelling a timer": 6,  # … + UPDATE the pending timer
        "repeated /start": 4,  # update, SELECT, UPDATE lead, INSERT events
    },
    "postgresql": {
        "start of a new lead": 1,  # INSERT lead and the rest combined, not read first
        "button press": 2,  # SELECT, the rest combined
        "button press that starts a timer": 2,
        "text answer cancelling a timer": 2,
        "repeated /start": 2,
    },
}


#: What /start and a press of "Buy now" log in mini.yaml, in the order the engine logs it.
EXPECTED_LOG = [
    "started",
    "step_sent",
    "question_asked",
    "answer_given",
    "stage_changed",
    "question_asked",
]


@contextmanager
def counted(db: Database) -> Iterator[tuple[list[str], list[int]]]:
    """The statements run, and the number of transactions committed, on every engine."""
    statements: list[str] = []
    commits = [0]

    def count(*args: Any) -> None:
        if not str(args[2]).startswith("BEGIN"):
            statements.append(str(args[2]))

    def commit(*_: Any) -> None:
        commits[0] += 1

    for engine in db.sync_engines:
        event.listen(engine, "before_cursor_execute", count)
        event.listen(engine, "commit", commit)
    try:
        yield statements, commits
    finally:
        for engine in db.sync_engines:
            event.remove(engine, "before_cursor_execute", count)
            event.remove(engine, "commit", commit)


async def test_statements_per_update_kind(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await db.load_known_leads()  # as ``leadbot run`` does at start (PostgreSQL)
    chat = Collect()
    key = LeadKey("telegram", 4242)
    used: dict[str, int] = {}
    transactions: dict[str, int] = {}
    update_ids = iter(range(1, 100))

    async def run(kind: str, update: Input) -> None:
        token = current_update.set(UpdateMark(next(update_ids), "here", timedelta(seconds=20)))
        try:
            with counted(db) as (statements, commits):
                await service.handle(key, update, chat)
        finally:
            current_update.reset(token)
        used[kind], transactions[kind] = len(statements), commits[0]

    await run("start of a new lead", Start(first_name="Ann"))
    await run("button press", chat.press("Buy now"))
    await run("button press that starts a timer", chat.press("Big"))
    await run("text answer cancelling a timer", Text("We are twelve people"))
    await run("repeated /start", Start(first_name="Ann"))
    assert chat.sent[-1].text  # the updates did their work
    budget = BUDGET[db.engine.dialect.name]
    over = {k: (n, budget[k]) for k, n in used.items() if n > budget[k]}
    assert not over, f"statements per update grew (used, budget): {over}"
    # A counter that heard nothing would pass any budget: each kind writes, and each kind
    # but a first contact reads its lead first.
    assert min(used.values()) >= 1, used
    assert min(n for kind, n in used.items() if kind != "start of a new lead") >= 2, used
    # One transaction each: SQLite's; on PostgreSQL the one statement that writes (its own
    # implicit transaction: no COMMIT for SQLAlchemy to hear).
    assert set(transactions.values()) == {1 if db.is_sqlite else 0}, transactions


async def test_a_repeated_update_changes_nothing(db: Database, mini: Funnel, clock: Clock) -> None:
    """The same update id again (a webhook retry, a replay after a crash): its record, made in
    the transaction of its first run, stops the second run before it writes or sends."""
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    key = LeadKey("telegram", 4343)
    await service.handle(key, Start(first_name="Ann"), chat)
    for _ in range(2):
        mark = UpdateMark(77, "here", timedelta(seconds=20))
        token = current_update.set(mark)
        try:
            result = await service.handle(key, chat.press("Buy now"), chat)
        finally:
            current_update.reset(token)
    assert mark.repeated and result.repeated
    assert [m.text for m in chat.sent].count("Your budget?") == 1


async def test_a_first_contact_raced_by_another_process_is_told(db: Database, clock: Clock) -> None:
    """Two processes saw no row for the same person: the second insert writes nothing and
    says so (the service then runs the update again on the row the first one made)."""
    key = ("telegram", 5151)
    now = clock()
    first = await db.transact(
        lambda c: Unit(c).store(None, key, LeadState(first_name="A"), now, "1")
    )
    with pytest.raises(LeadRace):
        await db.transact(lambda c: Unit(c).store(None, key, LeadState(first_name="B"), now, "1"))
    lead_id, state = await db.transact(lambda c: Unit(c).load(*key))
    assert (lead_id, state.first_name) == (first, "A")


async def test_an_updates_events_keep_their_order(db: Database, mini: Funnel, clock: Clock) -> None:
    """PostgreSQL runs the parts of a combined statement in no set order: the events of one
    update are chained so the lead log (ordered by id) reads as the engine logged them."""
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    key = LeadKey("telegram", 4545)
    await service.handle(key, Start(first_name="Ann"), chat)
    await service.handle(key, chat.press("Buy now"), chat)
    async with db.session() as session:
        lead = await LeadRepo(session).get_or_create(key.channel, key.user_id, clock())
        types = [e.type for e in await LeadRepo(session).events(lead.id)]
    assert types == EXPECTED_LOG, types
