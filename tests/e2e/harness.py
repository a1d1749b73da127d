"""Driving the real bot against FakeBotAPI: push updates, await answers, read the lead log.

Each harness has a fresh SQLite file, a scenario, the real service and dispatcher; the real
aiogram Bot talks HTTP to the fake.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select

from app.dispatcher import LeadDispatcher
from app.factory import make_dispatcher
from bot.engine.types import Classified
from bot.qualification import OfflineQualifier, Qualifier
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder, utcnow
from bot.telegram.channel import CHANNEL, Channels
from bot.telegram.throttle import Throttle
from fakes.bot_api import Call, FakeBotAPI
from storage.db import Database
from storage.models import Event, Lead, ScheduledTouch

TOKEN = "123456:TEST-e2e-token"
TESTS = Path(__file__).resolve().parent.parent
MINI = TESTS / "data" / "mini.yaml"
DEMO = TESTS.parent / "scenarios" / "demo.yaml"
PHONE = "+79991234567"


class GatedQualifier:
    """The offline qualifier, held until the test opens the gate (a slow model, say)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()
        self.inner = OfflineQualifier()

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        self.waiting.set()
        await self.gate.wait()
        return await self.inner.qualify(funnel, answers)


@dataclass
class Harness:
    tg: FakeBotAPI
    bot: Bot
    dp: LeadDispatcher
    service: FunnelService
    db: Database
    channels: Channels
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def texts(self) -> Any:
        return self.service.scenario.funnel.scenario.texts

    # ------------------------------------------------------------------ driving

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        return self.tg.push_update(update)

    async def say(self, user: int, text: str, expect: str | None = None, **kw: Any) -> Call | None:
        """The prospect types ``text``; wait for a bot message containing ``expect``."""
        since = len(self.tg.sent(user))
        self.push(self.tg.message_update(user, text, **kw))
        return await self.expect(user, expect, since) if expect is not None else None

    async def share_contact(self, user: int, expect: str) -> Call:
        since = len(self.tg.sent(user))
        self.push(self.tg.contact_update(user, PHONE))
        return await self.expect(user, expect, since)

    async def press(self, user: int, label: str) -> Call:
        """Press the button ``label`` on the newest message that has it; wait for the answer."""
        message = await until(
            lambda: next(
                (c for c in reversed(self.tg.sent(user)) if label in c.button_texts), None
            ),
            self.tg.describe_calls,
        )
        data = message.buttons[message.button_texts.index(label)]["callback_data"]
        update = self.push(self.tg.callback_update(user, data, message.result["message_id"]))
        return await self.answered(update)

    async def answered(self, update: dict[str, Any]) -> Call:
        query_id = update["callback_query"]["id"]
        return await self.tg.wait_for(
            lambda c: (
                c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id
            ),
            timeout=10,
        )

    async def expect(self, user: int, contains: str, since: int = 0) -> Call:
        """A message to ``user`` containing ``contains``, sent after the first ``since``."""

        def found() -> Call | None:
            return next((c for c in self.tg.sent(user)[since:] if contains in (c.text or "")), None)

        call: Call = await until(found, self.tg.describe_calls)
        return call

    async def settle(self, quiet: float = 0.2) -> None:
        """Wait until no update is being handled and the bot has been silent for ``quiet``."""
        count, stamp = -1, time.monotonic()
        deadline = stamp + 10
        while time.monotonic() < deadline:
            if self.dp.in_flight or len(self.tg.calls) != count:
                count, stamp = len(self.tg.calls), time.monotonic()
            elif time.monotonic() - stamp >= quiet:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the bot never settled:\n" + self.tg.describe_calls())

    async def skip_wait(self, user: int, channel: str = CHANNEL) -> None:
        assert await self.service.skip_wait(LeadKey(channel, user)), "nothing was waiting"

    # ------------------------------------------------------------------ the lead log

    async def lead(self, user: int, channel: str = CHANNEL) -> Lead | None:
        async with self.db.session() as session:
            stmt = select(Lead).where(Lead.channel == channel, Lead.user_id == user)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def events(self, user: int, channel: str = CHANNEL) -> list[Event]:
        lead = await self.lead(user, channel)
        if lead is None:
            return []
        async with self.db.session() as session:
            stmt = select(Event).where(Event.lead_id == lead.id).order_by(Event.id)
            return list((await session.execute(stmt)).scalars())

    async def event_types(self, user: int, channel: str = CHANNEL) -> list[str]:
        return [e.type for e in await self.events(user, channel)]

    async def touches(self, user: int, channel: str = CHANNEL) -> list[ScheduledTouch]:
        lead = await self.lead(user, channel)
        assert lead is not None
        async with self.db.session() as session:
            stmt = (
                select(ScheduledTouch)
                .where(ScheduledTouch.lead_id == lead.id)
                .order_by(ScheduledTouch.id)
            )
            return list((await session.execute(stmt)).scalars())


class PlainHTTPSession(AiohttpSession):
    """aiogram's session without the 250 ms pause on close kept for TLS (the fake is HTTP)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def until(
    check: Callable[[], Any],
    describe: Callable[[], str] = lambda: "",
    timeout: float = 10.0,  # noqa: ASYNC109 - generous: other suites may load the machine
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s\n{describe()}")
        await asyncio.sleep(0.03)


async def open_service(
    path: Path,
    scenario: Path = MINI,
    qualifier: Qualifier | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Database, FunnelService]:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.upgrade()
    holder = ScenarioHolder(load_funnel(scenario))
    return db, FunnelService(db, holder, qualifier or OfflineQualifier(), clock)


@asynccontextmanager
async def harness_for(
    tg: FakeBotAPI,
    tmp_path: Path,
    scenario: Path = MINI,
    qualifier: Qualifier | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[Harness]:
    db, service = await open_service(tmp_path / "leads.db", scenario, qualifier, clock)
    bot = Bot(
        TOKEN,
        session=PlainHTTPSession(api=TelegramAPIServer.from_base(tg.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )  # as app.factory.make_bot builds it (test_run.py uses that one)
    channels = Channels(
        service.scenario,
        throttle=Throttle(rate=1000, per_chat=1000, burst=1000, chat_burst=1000),
        provider_token="284685063:TEST:fake-provider",
    )
    dp = make_dispatcher(bot, service, channels, touch_interval=0.1, drain_timeout=5)
    try:
        yield Harness(tg, bot, dp, service, db, channels)
    finally:
        await bot.session.close()
        await db.close()


@asynccontextmanager
async def polling(h: Harness) -> AsyncIterator[Harness]:
    """Run the dispatcher's long polling against the fake for the duration of the block."""
    task = asyncio.create_task(
        h.dp.start_polling(h.bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    await h.tg.wait_for(lambda c: c.method == "getMe")
    try:
        yield h
    finally:
        await h.dp.stop_polling()
        await task
