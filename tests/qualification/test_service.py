"""End to end: the funnel service with the LLM qualifier, a real SQLite DB and FakeOpenAI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.engine.types import Contact, Start, Text
from bot.qualification.llm import LLMQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect as Chat
from fakes.openai_server import FakeOpenAI, Reply
from storage.db import Database
from storage.models import Event, Lead
from tests.conftest import Clock
from tests.qualification.conftest import MakeQualifier, answer

KEY = LeadKey("telegram", 2002)


async def interview(service: FunnelService, chat: Chat) -> None:
    await service.handle(KEY, Start(first_name="Ann"), chat)
    await service.handle(KEY, chat.press("Buy now"), chat)
    await service.handle(KEY, chat.press("Big"), chat)
    await service.handle(KEY, Text("Forty people, we need a machine this week"), chat)
    await service.handle(KEY, Contact("+79991234567"), chat)


async def classified_event(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        rows = await session.execute(select(Event).where(Event.type == "classified"))
        events = rows.scalars().all()
    assert len(events) == 1
    return events[0].payload


async def test_the_model_places_the_lead(
    sqlite_db: Database,
    mini: Funnel,
    clock: Clock,
    llm: FakeOpenAI,
    qualifier: LLMQualifier,
) -> None:
    llm.script(Reply(answer("hot", 91), prompt_tokens=400, completion_tokens=60))
    service = FunnelService(sqlite_db, ScenarioHolder(mini), qualifier, clock)
    chat = Chat()

    await interview(service, chat)

    payload = await classified_event(sqlite_db)
    assert payload["segment"] == "hot"
    assert payload["reason"] == "Asked for the price and delivery this week."
    assert payload["path"] == "llm"
    assert payload["prompt_tokens"] == 400 and payload["completion_tokens"] == 60
    assert payload["bant"]["need"] == "yes"
    assert "latency_ms" in payload
    async with sqlite_db.session() as session:
        lead = (await session.execute(select(Lead))).scalar_one()
    assert (lead.segment, lead.score, lead.readiness) == ("hot", 91, "ready_to_buy")
    assert lead.summary == "Office of 40 people wants a machine this month."
    assert chat.sent[-1].text == "Machine X for Ann"  # the hot chain goes on
    assert len(llm.requests) == 1
    assert "Forty people, we need a machine this week" in llm.prompt_text()


async def test_the_server_down_does_not_stop_the_chain(
    sqlite_db: Database, mini: Funnel, clock: Clock, make_qualifier: MakeQualifier
) -> None:
    qualifier = await make_qualifier(openai_base_url="http://127.0.0.1:9/v1")
    service = FunnelService(sqlite_db, ScenarioHolder(mini), qualifier, clock)
    chat = Chat()

    await interview(service, chat)

    payload = await classified_event(sqlite_db)
    assert payload["segment"] == "hot"  # the offline classifier's verdict
    assert payload["path"] == "offline_fallback"
    assert payload["error"] == "connection"
    assert chat.sent[-1].text == "Machine X for Ann"
    assert not any("wrong" in m.text for m in chat.sent)
