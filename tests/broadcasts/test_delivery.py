"""Broadcasts through the real stack: the bot's touch loop, a real aiogram Bot, and FakeBotAPI
with Telegram's flood limits on (429 beyond them).

The leads are inserted as rows (not driven through the engine) so the time goes to delivery.
The fake's global rate is raised above Telegram's 30/s to keep the suite fast; the bot's own
throttle is set just under it, as in production it sits under Telegram's.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, select, update

from bot.broadcasts.service import control, progress, start
from bot.broadcasts.winback import winback_chore
from bot.engine.types import Stop
from bot.service import FunnelService, LeadKey
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from bot.telegram.touches import TouchLoop
from fakes.bot_api import FakeBotAPI
from fakes.channels import Collect
from storage.broadcasts import Audience, Progress
from storage.db import Database
from storage.models import Broadcast, Lead, ScheduledTouch
from tests.broadcasts.conftest import add_event, add_leads, scenario_copy
from tests.conftest import MINI, Clock
from tests.e2e.harness import TOKEN, PlainHTTPSession, open_service, until

RATE = 120  # messages a second the fake allows (Telegram: about 30)
NEWS = "Spring news for"
MESSAGE = {
    "message": NEWS + " {first_name}",
    "buttons": [{"text": "Tell me", "goto": "hot_call"}],
}
SENDING_WINDOW = 'sending_window: {start: "09:00", end: "21:00"}'


@dataclass
class Stack:
    db: Database
    service: FunnelService
    bot: Bot
    loop: TouchLoop


@asynccontextmanager
async def running_bot(
    tg: FakeBotAPI,
    path: Path,
    clock: Clock,
    scenario: Path = MINI,
    rate: float = RATE,
    chores: list[Callable[[FunnelService], Callable[[], Awaitable[object]]]] | None = None,
) -> AsyncIterator[Stack]:
    """What ``leadbot run`` starts, minus polling: the database, the service, the touch loop."""
    db, service = await open_service(path, scenario, clock=clock)
    bot = Bot(
        TOKEN,
        session=PlainHTTPSession(api=TelegramAPIServer.from_base(tg.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    burst = max(int(rate * 0.8), 2)
    channels = Channels(service.scenario, throttle=Throttle(rate=rate * 0.8, burst=burst))
    loop = TouchLoop(
        service,
        channels.for_leads(bot),
        interval=0.05,
        chores=[make(service) for make in chores or []],
    )
    try:
        yield Stack(db, service, bot, loop)
    finally:
        await loop.stop()
        await bot.session.close()
        await db.close()


def news(tg: FakeBotAPI) -> Counter[int]:
    """How many copies of the mailing each chat got."""
    return Counter(int(c.chat_id or 0) for c in tg.sent() if NEWS in (c.text or ""))


async def look(db: Database, broadcast_id: int) -> Progress:
    return await progress(db, broadcast_id)


async def held(db: Database, broadcast_id: int, until_: datetime) -> int:
    async with db.session() as session:
        stmt = select(func.count(ScheduledTouch.id)).where(
            ScheduledTouch.broadcast_id == broadcast_id,
            ScheduledTouch.state == "pending",
            ScheduledTouch.due_at >= until_,
        )
        return int((await session.execute(stmt)).scalar_one())


async def test_a_thousand_leads_once_each_within_limits_and_quiet_hours(tmp_path: Path) -> None:
    scenario = scenario_copy(tmp_path, SENDING_WINDOW)
    clock = Clock(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))  # 22:00 in Moscow: quiet hours
    opens = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
    async with (
        FakeBotAPI(global_rate=RATE, per_chat_rate=1) as tg,
        running_bot(tg, tmp_path / "leads.db", clock, scenario) as s,
    ):
        await add_leads(s.db, 1000, clock(), first_user=10_000)
        never = {
            status: range(first, first + 10)
            for status, first in (("unsubscribed", 20_000), ("handed_off", 21_000),
                                  ("blocked", 22_000))
        }  # fmt: skip
        for status, users in never.items():
            await add_leads(s.db, len(users), clock(), first_user=users[0], status=status)
        funnel = s.service.scenario.funnel
        started = await start(
            s.db, funnel, name="spring", audience=Audience(segment="hot"), message=MESSAGE,
            now=clock(),
        )  # fmt: skip
        assert started.queued == 1000
        late_stop = range(10_000, 10_005)  # unsubscribe after the mailing was queued
        for user in late_stop:
            await s.service.handle(LeadKey("telegram", user), Stop(), Collect())
        gone = range(10_005, 10_008)  # blocked the bot; only Telegram knows yet
        for user in gone:
            tg.block_user(user)

        s.loop.start()
        await until(lambda: _all_held(s.db, started.broadcast_id, opens), timeout=30)
        await asyncio.sleep(0.2)
        assert tg.sent() == []  # quiet hours: nothing before the window opens
        clock.now = opens + timedelta(minutes=1)
        window_opened = time.monotonic()
        await until(lambda: _finished(s.db, started.broadcast_id), timeout=60)

        got = news(tg)
        expected = set(range(10_008, 11_000))
        assert set(got) == expected and set(got.values()) == {1}  # everyone once, nobody twice
        silent = [*late_stop, *gone, *(u for users in never.values() for u in users)]
        assert all(tg.sent(user) == [] for user in silent)
        assert min(c.time for c in tg.sent()) >= window_opened
        # Under the flood limit: never refused, and never more in a second than the
        # limiter's bucket allows (its burst, then its rate; the fake's bucket is larger).
        assert tg.rejected_429 == 0
        assert _busiest_second(tg) <= 2 * int(RATE * 0.8) + 1
        done = await look(s.db, started.broadcast_id)
        assert (done.delivered, done.skipped, done.blocked, done.failed) == (992, 5, 3, 0)
        async with s.db.session() as session:
            blocked = await session.execute(
                select(func.count()).where(Lead.user_id.in_(list(gone)), Lead.status == "blocked")
            )
            assert blocked.scalar_one() == 3


async def _all_held(db: Database, broadcast_id: int, opens: datetime) -> bool:
    await asyncio.sleep(0.2)
    return await held(db, broadcast_id, opens) == 1000


async def _finished(db: Database, broadcast_id: int) -> bool:
    """Nothing of the broadcast left in the queue (a cheap look: it is polled)."""
    await asyncio.sleep(0.2)
    async with db.session() as session:
        stmt = select(func.count(ScheduledTouch.id)).where(
            ScheduledTouch.broadcast_id == broadcast_id,
            ScheduledTouch.state.in_(["pending", "claimed", "sending"]),
        )
        return int((await session.execute(stmt)).scalar_one()) == 0


def _busiest_second(tg: FakeBotAPI) -> int:
    times = sorted(c.time for c in tg.sent())
    most, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def settled(tg: FakeBotAPI, quiet: float = 0.4, limit: float = 10.0) -> int:
    """The number of copies sent once sending has stopped (a busy machine is slow to stop)."""
    loop = asyncio.get_running_loop()
    deadline, last, since = loop.time() + limit, -1, loop.time()
    while loop.time() < deadline:
        now_count = sum(news(tg).values())
        if now_count != last:
            last, since = now_count, loop.time()
        elif loop.time() - since >= quiet:
            break
        await asyncio.sleep(0.05)
    return last


async def test_pause_resume_and_cancel_while_sending(tmp_path: Path) -> None:
    clock = Clock()
    async with (
        FakeBotAPI(global_rate=50, per_chat_rate=1) as tg,
        running_bot(tg, tmp_path / "leads.db", clock, rate=50) as s,
    ):
        await add_leads(s.db, 200, clock(), first_user=40_000)
        funnel = s.service.scenario.funnel
        started = await start(
            s.db, funnel, name="promo", audience=Audience(), message=MESSAGE, now=clock()
        )
        bid = started.broadcast_id
        s.loop.start()
        await until(lambda: sum(news(tg).values()) >= 20)
        await control(s.db, bid, "pause", clock())
        paused = await settled(tg)  # a copy already on its way is let through
        await asyncio.sleep(0.5)
        assert sum(news(tg).values()) == paused < 200
        state = await look(s.db, bid)
        assert state.broadcast.state == "paused" and state.queued == 200 - paused

        await control(s.db, bid, "resume", clock())
        await until(lambda: sum(news(tg).values()) >= paused + 20)
        await control(s.db, bid, "cancel", clock())
        stopped = await settled(tg)
        await asyncio.sleep(0.5)
        assert sum(news(tg).values()) == stopped < 200
        final = await look(s.db, bid)
        assert (final.queued, final.delivered, final.cancelled) == (0, stopped, 200 - stopped)
        assert set(news(tg).values()) == {1}


async def test_a_crash_in_the_middle_and_a_restart_send_nobody_twice(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "leads.db"
    async with FakeBotAPI(global_rate=50, per_chat_rate=1) as tg:
        async with running_bot(tg, path, clock, rate=50) as s:
            await add_leads(s.db, 200, clock(), first_user=50_000)
            started = await start(
                s.db, s.service.scenario.funnel, name="crash", audience=Audience(),
                message=MESSAGE, now=clock(),
            )  # fmt: skip
            s.loop.start()
            await until(lambda: sum(news(tg).values()) >= 40)
            await s.loop.stop(timeout=0)  # the process dies wherever it is
        before = sum(news(tg).values())
        clock.advance(minutes=11)  # the dead process's claims expire
        async with running_bot(tg, path, clock, rate=50) as again:
            again.loop.start()
            await until(lambda: _finished(again.db, started.broadcast_id), timeout=30)
            final = await look(again.db, started.broadcast_id)
        got = news(tg)
        assert set(got.values()) == {1}  # nobody twice
        assert len(got) > before  # the new process went on with the rest
        # A copy cut off while being sent is "unknown", never sent again; the rest all arrived.
        assert final.failed <= 1 and len(got) >= 200 - final.failed
        assert final.delivered + final.failed == 200


async def test_a_winback_rule_fires_once_and_only_once_from_the_running_loop(
    tmp_path: Path,
) -> None:
    clock = Clock()
    runs: list[dict[str, int]] = []

    def winback(service: FunnelService) -> Callable[[], Awaitable[object]]:
        chore = winback_chore(service, every=0.05)

        async def counted() -> object:
            result = await chore()
            if result:
                runs.append(result)
            return result

        return counted

    async with (
        FakeBotAPI(global_rate=RATE, per_chat_rate=1) as tg,
        running_bot(tg, tmp_path / "leads.db", clock, chores=[winback]) as s,
    ):
        long_ago = clock() - timedelta(days=5)
        quiet = await add_leads(s.db, 30, long_ago, first_user=60_000)  # at hot-2 for 5 days
        talking = await add_leads(s.db, 1, long_ago, first_user=61_000)
        await add_event(s.db, talking[0], "message_received", clock() - timedelta(hours=1))
        await add_leads(s.db, 2, long_ago, first_user=62_000, step="info-2", segment="info")
        s.loop.start()

        def comebacks() -> Counter[int]:
            sent = tg.sent()
            return Counter(int(c.chat_id or 0) for c in sent if "Still thinking" in (c.text or ""))

        await until(lambda: len(comebacks()) == 30)
        await until(lambda: len(runs) >= 10)  # the rule kept running
        assert set(comebacks()) == set(range(60_000, 60_030))
        assert set(comebacks().values()) == {1}

        # Back at the same step and quiet again: still not a second time.
        async with s.db.session() as session, session.begin():
            await session.execute(
                update(Lead).where(Lead.id.in_(quiet)).values(step="hot-2", status="active")
            )
        clock.advance(days=5)
        seen = len(runs)
        await until(lambda: len(runs) >= seen + 10)
        await until(lambda: len(comebacks()) == 31)  # the talker has been quiet for days now
        await asyncio.sleep(0.2)
        assert set(comebacks().values()) == {1}
        async with s.db.session() as session:
            rows = (await session.execute(select(Broadcast))).scalars().all()
            touches = await session.execute(select(func.count(ScheduledTouch.id)))
        assert [(b.kind, b.name, b.chain) for b in rows] == [("winback", "offer_quiet", "comeback")]
        assert touches.scalar_one() == 31
