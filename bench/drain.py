"""Benchmarks 1 and 2: draining a backlog of due touches, and live replies meanwhile.

The bot is built as ``leadbot run`` builds it (``make_bot``, ``Channels`` with
``Throttle(30, 1)``, ``make_dispatcher`` and its touch loop, ``serve_polling``) and talks
HTTP to a FakeBotAPI process that answers 429 past Telegram's limits (30 messages a second
overall, 1 a second per chat with a burst of 3). The leads are cloned from one lead the real
service walked to the wait after the offer, so every touch is a valid ``TimerFired``.

While the backlog drains, prospects already at a question with buttons press one; the time
from the update entering the fake's getUpdates queue to the bot's reply arriving at the fake
is their latency.

The drain is also timed from inside: every ``fire_due`` round (claim + touches), and for each
touch the time waiting for the throttle, the time in HTTP calls, and the rest (database and
Python: engine, ORM, aiogram). What is left of the wall time is the touch loop sleeping
between rounds.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from sqlalchemy import text

from app.factory import make_bot, make_dispatcher
from app.runner import serve_polling
from bench.fake_proc import TOKEN, FakeProc
from bench.results import Row, percentile, say
from bench.seeding import (
    TOUCH_TEXT,
    clone,
    drop_templates,
    load_mini,
    make_templates,
    postgres_database,
    sqlite_url,
)
from bot.qualification import OfflineQualifier
from bot.service import FunnelService, ScenarioHolder, utcnow
from bot.telegram.channel import Channels
from bot.telegram.throttle import Lane, Throttle
from storage.db import Database

RATE = 30.0  # the global limit, on both sides
CHAT_RATE = 1.0
DRAIN_USERS = 1  # drained leads are users 1..N
PRESS_USERS = 5_000_000  # prospects pressing buttons are users 5_000_000..


@dataclass
class DrainConfig:
    leads: int = 10_000
    presses: int = 200
    press_rate: float = 5.0  # presses a second (Poisson arrivals)
    press_after: float = 10.0  # seconds into the drain when presses begin
    postgres: str | None = None  # run on this PostgreSQL server instead of SQLite


@dataclass
class Probe:
    """Timings taken inside the bot while it drains."""

    rounds: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, fired
    touches: list[list[float]] = field(default_factory=list)  # start, end, throttle, http
    reply_waits: list[float] = field(default_factory=list)
    current: ContextVar[list[float] | None] = field(
        default_factory=lambda: ContextVar("touch", default=None)
    )

    def install(self, service: FunnelService, channels: Channels, bot: Bot) -> None:
        fire_due, fire_touch = service.fire_due, service.fire_touch
        acquire = channels.throttle.acquire

        async def timed_fire_due(*args: Any, **kwargs: Any) -> int:
            start = time.monotonic()
            fired = await fire_due(*args, **kwargs)
            self.rounds.append((start, time.monotonic(), fired))
            return fired

        async def timed_fire_touch(*args: Any, **kwargs: Any) -> None:
            record = [time.monotonic(), 0.0, 0.0, 0.0]
            token = self.current.set(record)
            try:
                await fire_touch(*args, **kwargs)
            finally:
                self.current.reset(token)
                record[1] = time.monotonic()
                self.touches.append(record)

        async def timed_acquire(
            priority: Any = "reply", chat_id: int | None = None, lane: Lane | None = None
        ) -> None:
            start = time.monotonic()
            await acquire(priority, chat_id, lane)
            record = self.current.get()
            if record is not None:
                record[2] += time.monotonic() - start
            else:
                self.reply_waits.append(time.monotonic() - start)

        async def timed_http(
            make_request: Callable[[Bot, TelegramMethod[Any]], Awaitable[Any]],
            bot: Bot,
            method: TelegramMethod[Any],
        ) -> Any:
            start = time.monotonic()
            try:
                return await make_request(bot, method)
            finally:
                record = self.current.get()
                if record is not None:
                    record[3] += time.monotonic() - start

        service.fire_due = timed_fire_due  # type: ignore[method-assign]
        service.fire_touch = timed_fire_touch  # type: ignore[method-assign]
        channels.throttle.acquire = timed_acquire  # type: ignore[method-assign]
        bot.session.middleware(timed_http)

    def breakdown(self, start: float, end: float) -> dict[str, float]:
        """Where the drain's wall time went (seconds)."""
        wall = end - start
        in_rounds = sum(e - s for s, e, _ in self.rounds if s < end)
        touch_time = sum(r[1] - r[0] for r in self.touches)
        throttle = sum(r[2] for r in self.touches)
        http = sum(r[3] for r in self.touches)
        return {
            "wall": wall,
            "rounds": float(len([r for r in self.rounds if r[0] < end])),
            "touches": float(len(self.touches)),
            "claiming (fire_due minus its touches)": in_rounds - touch_time,
            "throttle wait (touches)": throttle,
            "HTTP to the fake (touches)": http,
            "database + Python per touch (the rest of fire_touch)": touch_time - throttle - http,
            "touch loop asleep between rounds": max(0.0, wall - in_rounds),
        }


async def _drained(db: Database, last_id: int) -> int:
    async with db.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM scheduled_touches WHERE id <= :last"
                        " AND state IN ('pending', 'claimed', 'sending')"
                    ),
                    {"last": last_id},
                )
            ).scalar_one()
        )


async def _press(
    fake: FakeProc, users: list[int], data: str, rate: float, pushed: list[list[Any]]
) -> None:
    rng = random.Random(1)
    for user in users:
        await asyncio.sleep(rng.expovariate(rate))
        answer = await fake.push([{"kind": "callback", "user": user, "data": data}])
        pushed.extend(answer["pushed"])


async def run(config: DrainConfig, want_presses: bool) -> tuple[Row, Row | None, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp:
        if config.postgres:
            async with postgres_database(config.postgres) as url:
                return await _run(url, config, want_presses)
        return await _run(sqlite_url(Path(tmp) / "drain.db"), config, want_presses)


async def _run(
    url: str, config: DrainConfig, want_presses: bool
) -> tuple[Row, Row | None, dict[str, Any]]:
    n, presses = config.leads, (config.presses if want_presses else 0)
    db = Database(url)
    funnel = load_mini()
    try:
        await db.upgrade()
        templates = await make_templates(db, funnel)
        seed_start = time.perf_counter()
        await clone(db, templates.touch, DRAIN_USERS, n, due=utcnow() - timedelta(minutes=1))
        if presses:
            await clone(db, templates.question, PRESS_USERS, presses)
        await drop_templates(db, templates)
        async with db.engine.connect() as conn:
            last_id = int(
                (await conn.execute(text("SELECT max(id) FROM scheduled_touches"))).scalar_one()
            )
        say(
            f"seeded {n} leads with a due touch (+{presses} at a question) in "
            f"{time.perf_counter() - seed_start:.1f}s"
        )

        async with FakeProc(global_rate=RATE, per_chat_rate=CHAT_RATE, per_chat_burst=3) as fake:
            service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier())
            bot = make_bot(TOKEN, fake.base_url)
            channels = Channels(service.scenario, throttle=Throttle(RATE, CHAT_RATE))
            dp = make_dispatcher(bot, service, channels)  # touch loop every 1 s, as in run_bot
            probe = Probe()
            probe.install(service, channels, bot)
            stop = asyncio.Event()
            cpu0, fake_cpu0 = time.process_time(), fake.cpu_seconds()
            polling = asyncio.create_task(serve_polling(bot, dp, stop, polling_timeout=10))
            pushed: list[list[Any]] = []
            pressing: asyncio.Task[None] | None = None
            try:
                expected = n / RATE
                deadline = time.monotonic() + 3 * expected + 120
                next_report = time.monotonic() + 30
                while True:
                    await asyncio.sleep(1.0)
                    if polling.done():
                        polling.result()  # raises what stopped it
                        raise RuntimeError("polling stopped on its own")
                    if (
                        presses
                        and pressing is None
                        and probe.rounds
                        and time.monotonic() - probe.rounds[0][0] >= config.press_after
                    ):
                        users = list(range(PRESS_USERS, PRESS_USERS + presses))
                        pressing = asyncio.create_task(
                            _press(fake, users, templates.press_data, config.press_rate, pushed)
                        )
                    left = await _drained(db, last_id)
                    if left == 0 and (pressing is None or pressing.done()):
                        break
                    if time.monotonic() > deadline:
                        say(f"gave up: {left} touches still due")
                        break
                    if time.monotonic() >= next_report:
                        done = n - left
                        say(f"drain: {done}/{n} touches fired")
                        next_report += 30
                if pressing is not None:
                    await pressing
                    await asyncio.sleep(2.0)  # let the last replies land
            finally:
                stop.set()
                await asyncio.wait_for(polling, 60)
                await bot.session.close()
            cpu, fake_cpu = time.process_time() - cpu0, fake.cpu_seconds() - fake_cpu0
            calls = await fake.calls()
            info = await fake.info()
            penalties = channels.throttle.penalties
        async with db.engine.connect() as conn:
            states: dict[str, int] = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT state, count(*) FROM scheduled_touches WHERE id <= :last"
                            " GROUP BY state"
                        ),
                        {"last": last_id},
                    )
                ).all()
            )
    finally:
        await db.close()

    # ---- benchmark 1: the drain
    sends = [c for c in calls if c[0] == "sendMessage" and c[3] == 200]
    touch_sends = [c for c in sends if c[4] == TOUCH_TEXT and DRAIN_USERS <= c[1] < DRAIN_USERS + n]
    reply_sends = [c for c in sends if PRESS_USERS <= c[1] < PRESS_USERS + max(presses, 1)]
    per_lead = Counter(c[1] for c in touch_sends)
    duplicates = sum(k - 1 for k in per_lead.values() if k > 1)
    missing = n - len(per_lead)
    start = probe.rounds[0][0] if probe.rounds else 0.0
    end = max((c[2] for c in touch_sends), default=start)
    wall = max(end - start, 1e-9)
    limited = [c for c in sends if start <= c[2] <= end]  # everything the limit counted
    rate = len(limited) / wall
    touch_rate = len(touch_sends) / wall
    detail: dict[str, Any] = {
        "database": "PostgreSQL" if config.postgres else "SQLite",
        "leads": n,
        "drain_seconds": wall,
        "messages_per_second": rate,
        "touches_per_second": touch_rate,
        "touches_sent": len(touch_sends),
        "replies_sent_during_drain": len(limited) - len(touch_sends),
        "rejected_429": info["rejected_429"],
        "throttle_penalties": penalties,
        "duplicates": duplicates,
        "missing": missing,
        "touch_states": states,
        "bot_cpu_seconds": cpu,
        "fake_cpu_seconds": fake_cpu,
        "breakdown": probe.breakdown(start, end),
        "fire_touch_ms_median": statistics.median([(r[1] - r[0]) * 1000 for r in probe.touches])
        if probe.touches
        else 0.0,
        "rounds_fired": [r[2] for r in probe.rounds if r[2]][:5],
    }
    target = 0.95 * RATE
    row1 = Row(
        "1",
        "Drain 10k due touches" if n == 10_000 else f"Drain {n} due touches",
        f"{rate:.1f} msg/s ({rate / RATE:.0%}); dup {duplicates}; 429s {info['rejected_429']}",
        f"≥ {target:.1f} msg/s (95% of {RATE:.0f}); 0 duplicates",
        rate >= target and duplicates == 0,
        [
            f"{len(touch_sends)}/{n} touches in {wall:.1f}s ({touch_rate:.1f}/s), "
            f"+{len(limited) - len(touch_sends)} replies; missing {missing}; "
            f"throttle penalties {penalties}",
        ],
    )

    # ---- benchmark 2: replies during the drain
    row2 = None
    if presses:
        by_chat: dict[int, list[float]] = {}
        for c in reply_sends:
            by_chat.setdefault(c[1], []).append(c[2])
        latencies = []
        for _, user, pushed_at in pushed:
            after = [t for t in by_chat.get(user, []) if t >= pushed_at]
            if after:
                latencies.append(min(after) - pushed_at)
        unanswered = len(pushed) - len(latencies)
        reply_budget = probe.reply_waits
        if latencies:
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            value = f"p50 {p50 * 1000:.0f} ms; p99 {p99 * 1000:.0f} ms"
            passed = p99 < 1.0 and unanswered == 0
        else:
            p50 = p99 = float("nan")
            value, passed = "no replies", False
        detail.update(
            presses=len(pushed),
            unanswered=unanswered,
            latency_p50=p50,
            latency_p99=p99,
            latency_max=max(latencies) if latencies else float("nan"),
            reply_throttle_wait_max=max(reply_budget) if reply_budget else 0.0,
        )
        row2 = Row(
            "2",
            f"Replies during the drain ({len(pushed)} presses)",
            value,
            "p99 < 1 s",
            passed,
            [
                f"max {detail['latency_max'] * 1000:.0f} ms; unanswered {unanswered}; "
                f"longest throttle wait for a reply {detail['reply_throttle_wait_max'] * 1000:.0f}"
                " ms",
            ],
        )
    return row1, row2, detail
