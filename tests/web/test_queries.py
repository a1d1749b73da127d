"""The dashboard's queries: keyset pages cover every lead once (ties on created_at too),
the search looks at names, usernames and contacts, the inbox holds who waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.managers.desk import inbox, table_page
from bot.scenario.funnel import Funnel
from storage.criteria import LeadFilter
from storage.db import Database
from storage.models import Event, Lead

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def _seed(db: Database) -> None:
    async with db.session() as session, session.begin():
        for i in range(1, 8):
            session.add(
                Lead(
                    id=i,
                    channel="telegram",
                    user_id=100 + i,
                    first_name=f"Name{i}",
                    username=f"user{i}",
                    phone="+7999000000" + str(i) if i == 3 else None,
                    email="boss@example.com" if i == 5 else None,
                    segment="hot" if i % 2 else "info",
                    status="handed_off" if i == 4 else "active",
                    created_at=T0 + timedelta(minutes=i // 3),  # ties: 1-2, 3-5, 6-7
                    last_seen_at=T0 + timedelta(hours=i),
                )
            )
    async with db.session() as session, session.begin():
        session.add(Event(lead_id=4, type="message_received", payload={"text": "call me"}))
        session.add(Event(lead_id=4, type="step_sent", payload={}))


async def test_keyset_pages_cover_every_lead_once(db: Database) -> None:
    await _seed(db)
    seen: list[int] = []
    after = None
    while True:
        page = await table_page(db, LeadFilter(), "", after, size=2)
        seen += [r.id for r in page.rows]
        assert page.total == 7
        if page.next is None:
            break
        after = page.next
    assert seen == [7, 6, 5, 4, 3, 2, 1]


async def test_search_names_usernames_and_contacts(db: Database) -> None:
    await _seed(db)

    async def ids(text: str, f: LeadFilter | None = None) -> list[int]:
        return [r.id for r in (await table_page(db, f or LeadFilter(), text, None)).rows]

    assert await ids("NAME2") == [2]
    assert await ids("user6") == [6]
    assert await ids("0003") == [3]
    assert await ids("boss@") == [5]
    assert await ids("name", LeadFilter(segment="info")) == [6, 4, 2]


async def test_inbox_holds_handed_off_and_hot_leads(db: Database, mini: Funnel) -> None:
    await _seed(db)
    items = await inbox(db, mini)
    assert [i.lead.id for i in items] == [7, 5, 4, 3, 1]  # hot or handed off, latest first
    four = next(i for i in items if i.lead.id == 4)
    assert [(line.who, line.text) for line in four.lines] == [("lead", "call me")]
