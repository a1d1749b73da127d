"""Several bot processes on one PostgreSQL database share the touches without duplicates."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from bot.engine.types import Contact, OutMessage, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.models import ScheduledTouch
from tests.conftest import Clock, postgres_database

LEADS = 40


class Shared(Collect):
    """One chat log for every lead, tagged with who sent it."""

    def __init__(self, log: list[tuple[int, str]], user_id: int) -> None:
        super().__init__()
        self.log, self.user_id = log, user_id

    async def send(self, message: OutMessage) -> None:
        await asyncio.sleep(0.001)  # a network round trip, so the two workers interleave
        self.log.append((self.user_id, message.text))


async def seed(service: FunnelService, count: int = LEADS) -> None:
    for user_id in range(1, count + 1):
        key = LeadKey("telegram", user_id)
        chat = Collect()
        await service.handle(key, Start(first_name="Ann"), chat)
        await service.handle(key, chat.press("Buy now"), chat)
        await service.handle(key, chat.press("Big"), chat)
        await service.handle(key, Text("buy"), chat)
        await service.handle(key, Contact("+79991234567"), chat)


async def test_two_dispatchers_send_each_touch_once(mini: Funnel) -> None:
    async with postgres_database() as url:
        clock = Clock()
        first_db, second_db = Database(url), Database(url)
        try:
            await first_db.upgrade()
            first = FunnelService(first_db, ScenarioHolder(mini), OfflineQualifier(), clock)
            second = FunnelService(second_db, ScenarioHolder(mini), OfflineQualifier(), clock)
            await seed(first)
            clock.advance(hours=3)
            log: list[tuple[int, str]] = []

            async def drain(service: FunnelService, name: str) -> int:
                total = 0
                while ran := await service.fire_due(
                    lambda lead: Shared(log, lead.user_id), worker=name, limit=5
                ):
                    total += ran
                return total

            counts = await asyncio.gather(drain(first, "a"), drain(second, "b"))
            assert sum(counts) == LEADS and min(counts) > 0  # both did a share of the work
            sent = Counter(user for user, text in log if text == "Here is a discount.")
            assert sent == Counter(range(1, LEADS + 1))  # everyone once, nobody twice
            async with first_db.session() as session:
                states = Counter((await session.execute(select(ScheduledTouch.state))).scalars())
            assert states["sent"] == LEADS and states["claimed"] == states["sending"] == 0
        finally:
            await first_db.close()
            await second_db.close()


async def test_one_lead_updated_by_two_processes_at_once(mini: Funnel) -> None:
    async with postgres_database() as url:
        clock = Clock()
        dbs = [Database(url), Database(url)]
        try:
            await dbs[0].upgrade()
            services = [
                FunnelService(d, ScenarioHolder(mini), OfflineQualifier(), clock) for d in dbs
            ]
            key = LeadKey("telegram", 77)
            chat = Collect()
            await services[0].handle(key, Start(first_name="Ann"), chat)
            press = chat.press("Buy now")
            # A double tap that two webhook instances received: the step must run once.
            results = await asyncio.gather(*(s.handle(key, press, Collect()) for s in services))
            assert sorted(bool(r.toast) for r in results) == [False, True]
        finally:
            for database in dbs:
                await database.close()
