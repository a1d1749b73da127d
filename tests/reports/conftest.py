"""Known journeys through the mini scenario, so report numbers can be checked exactly.

| lead | source  | channel  | what happens                                             |
|------|---------|----------|----------------------------------------------------------|
| A    | vk_ads  | telegram | hot, clicks the core offer -> manager; pays 1000 RUB     |
| B    | vk_ads  | telegram | hot, clicks the core offer -> manager                    |
| C    | vk_ads  | telegram | info, declines contact and the lead magnet; waits (1d)   |
| D    | tg_post | telegram | answers one question and goes silent at q_budget         |
| E    | tg_post | telegram | info, shares a phone, gets the guide, sees the tripwire,  |
|      |         |          | finishes; pays 9.90 RUB                                  |
| F    | -       | terminal | two days later; classified not our client ("nope")       |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from bot.engine.types import Classified, Contact, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.leads import LeadRepo
from tests.conftest import Clock


class JobSeekerQualifier(OfflineQualifier):
    """The offline scorer, except that someone looking for a job is not our client."""

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        if "job" in answers.get("about", ""):
            return Classified("nope", 90, "not_a_fit", reason="looking for a job")
        return await super().qualify(funnel, answers)


@dataclass(frozen=True)
class Journeys:
    ids: dict[str, int]
    start: datetime  # when A arrived
    end: datetime  # the clock after the last event


async def drive(db: Database, funnel: Funnel, clock: Clock) -> Journeys:
    service = FunnelService(db, ScenarioHolder(funnel), JobSeekerQualifier(), clock)
    ids: dict[str, int] = {}
    start = clock.now

    async def journey(name: str, key: LeadKey, start_event: Start, *steps: object) -> Collect:
        chat = Collect()
        result = await service.handle(key, start_event, chat)
        ids[name] = result.lead_id
        for step in steps:
            event = chat.press(step) if isinstance(step, str) else step
            await service.handle(key, event, chat)  # type: ignore[arg-type]
        clock.advance(minutes=10)
        return chat

    def tg(user: int) -> LeadKey:
        return LeadKey("telegram", user)

    hot = ("Buy now", "Big", Text("We want to buy two machines"), Contact("+79991234567"))
    await journey("A", tg(1), Start("vk_ads", "Ann", username="ann_shop"), *hot, "I want it")
    await journey("B", tg(2), Start("vk_ads", "Boris"), *hot, "I want it")
    await journey(
        "C", tg(3), Start("vk_ads", "Cleo"),
        "Just looking", "Tiny", Text("Just comparing prices"), Text("Skip"), Text("Skip"),
    )  # fmt: skip
    await journey("D", tg(4), Start("tg_post", "Dan"), "Buy now")
    await journey(
        "E", tg(5), Start("tg_post", "Eve"),
        "Just looking", "Big", Text("We compare options"), Contact("+79990000005"),
    )  # fmt: skip
    assert await service.skip_wait(tg(5))  # the guide's 1-day wait, only Eve's
    assert await service.fire_due(lambda lead: Collect(), worker="test") == 1
    clock.advance(days=2)
    await journey(
        "F", LeadKey("terminal", 6), Start(None, "Fay"),
        "Just looking", "Big", Text("I am looking for a job"), Text("Skip"),
    )  # fmt: skip
    async with db.session() as session, session.begin():
        repo = LeadRepo(session)
        for name, amount, tier, title, step in (
            ("A", "1000", "core", "Machine X", "hot_offer"),
            ("E", "9.90", "tripwire", "Trial pack", "info_big"),
        ):
            payload = {"amount": amount, "currency": "RUB", "title": title, "tier": tier,
                       "offer_step": step}  # fmt: skip
            repo.add_events(ids[name], [("order_paid", step, payload)], clock.now)
    return Journeys(ids, start, clock.now)


@pytest.fixture
async def journeys(db: Database, mini: Funnel, clock: Clock) -> Journeys:
    return await drive(db, mini, clock)


def at(journeys: Journeys, **delta: float) -> datetime:
    return journeys.start + timedelta(**delta)
