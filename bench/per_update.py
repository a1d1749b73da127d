"""Benchmark 3: what one update costs through the whole stack, against a bare aiogram bot.

A burst of updates goes into the fake's getUpdates queue at once; the time until the last
reply reaches the fake gives updates per second. The full stack is the bot as ``leadbot run``
builds it (``make_dispatcher``, ``serve_polling``): polling, handlers, engine, database,
reply, with the limiter off (a Throttle with huge rates; the fake has no limits). Its
prospects are already at a typed question (cloned from a lead the real service walked
there), so each update is a text answer that saves an answer and asks the next step. The
baseline is a bare aiogram Dispatcher with one handler echoing the text, on the same fake
in the same run. Each side gets a warm-up burst first; the best of ``repeats`` bursts counts.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Message

from app.factory import make_bot, make_dispatcher
from app.runner import serve_polling
from bench.fake_proc import TOKEN, FakeProc
from bench.results import Row, say
from bench.seeding import (
    clone,
    drop_templates,
    load_mini,
    make_templates,
    postgres_database,
    sqlite_url,
)
from bot.qualification import OfflineQualifier
from bot.service import FunnelService, ScenarioHolder
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from storage.db import Database

ANSWER = "We are twelve people with one small kitchen"
NEXT_QUESTION = "Leave your phone?"  # what mini.yaml asks after q_about
BARE_USERS = 7_000_000
FULL_USERS = 8_000_000
UNLIMITED = dict(rate=1e6, per_chat=1e6, burst=10**6, chat_burst=10**6)


@dataclass
class BurstConfig:
    updates: int = 2000
    warmup: int = 100
    repeats: int = 2


@dataclass
class Burst:
    updates: int
    seconds: float
    answered: int  # with the expected reply
    other: int  # answered with something else (the error handler's apology)
    bot_cpu: float
    fake_cpu: float

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


async def burst(
    fake: FakeProc,
    users: range,
    reply: str,
    timeout: float,  # noqa: ASYNC109
) -> Burst:
    """Push one text from each of ``users`` at once; wait for the expected ``reply`` to each."""
    cpu0, fake_cpu0 = time.process_time(), fake.cpu_seconds()
    pushed = await fake.push([{"kind": "message", "user": u, "text": ANSWER} for u in users])
    t0 = min(p[2] for p in pushed["pushed"])
    deadline = time.monotonic() + timeout
    while True:
        result = await fake.count(
            since=pushed["calls"], lo=users[0], hi=users[-1], after=t0, text=reply
        )
        if result["count"] + result["other"] >= len(users) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    seconds = (result["last"] or time.monotonic()) - t0
    return Burst(
        len(users),
        seconds,
        result["count"],
        result["other"],
        time.process_time() - cpu0,
        fake.cpu_seconds() - fake_cpu0,
    )


async def _bare(fake: FakeProc, config: BurstConfig) -> list[Burst]:
    bot = make_bot(TOKEN, fake.base_url)
    dp = Dispatcher()

    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    dp.message.register(echo)
    polling = asyncio.create_task(
        dp.start_polling(
            bot,
            polling_timeout=10,
            handle_signals=False,
            close_bot_session=False,
            allowed_updates=dp.resolve_used_update_types(),
        )
    )
    try:
        user = BARE_USERS
        await burst(fake, range(user, user + config.warmup), ANSWER, 60)
        user += config.warmup
        bursts = []
        for _ in range(config.repeats):
            bursts.append(await burst(fake, range(user, user + config.updates), ANSWER, 120))
            user += config.updates
        return bursts
    finally:
        await dp.stop_polling()
        await polling
        await bot.session.close()


async def _full(fake: FakeProc, url: str, config: BurstConfig) -> list[Burst]:
    db = Database(url)
    try:
        await db.upgrade()
        funnel = load_mini()
        templates = await make_templates(db, funnel)
        total = config.warmup + config.updates * config.repeats
        await clone(db, templates.typed, FULL_USERS, total)
        await drop_templates(db, templates)
        service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier())
        bot: Bot = make_bot(TOKEN, fake.base_url)
        channels = Channels(service.scenario, throttle=Throttle(**UNLIMITED))  # type: ignore[arg-type]
        dp = make_dispatcher(bot, service, channels)
        stop = asyncio.Event()
        polling = asyncio.create_task(serve_polling(bot, dp, stop, polling_timeout=10))
        try:
            user = FULL_USERS
            await burst(fake, range(user, user + config.warmup), NEXT_QUESTION, 60)
            user += config.warmup
            bursts = []
            for _ in range(config.repeats):
                users = range(user, user + config.updates)
                bursts.append(await burst(fake, users, NEXT_QUESTION, 300))
                user += config.updates
            return bursts
        finally:
            stop.set()
            await asyncio.wait_for(polling, 120)
            await bot.session.close()
    finally:
        await db.close()


def _best(bursts: list[Burst]) -> Burst:
    return max(bursts, key=lambda b: (b.answered == b.updates, b.rate))


def _describe(b: Burst) -> str:
    failed = f" ({b.other} got an error reply instead)" if b.other else ""
    return (
        f"{b.answered}/{b.updates} answered{failed} in {b.seconds:.2f}s; bot CPU "
        f"{b.bot_cpu / max(b.answered, 1) * 1000:.2f} ms/update, fake CPU "
        f"{b.fake_cpu / max(b.answered, 1) * 1000:.2f} ms/update"
    )


async def run(config: BurstConfig, postgres: str | None) -> tuple[list[Row], dict[str, Any]]:
    detail: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp:
        async with FakeProc() as fake:
            bare = await _bare(fake, config)
            say("bare aiogram: " + "; ".join(f"{b.rate:.0f}/s" for b in bare))
            full = await _full(fake, sqlite_url(Path(tmp) / "burst.db"), config)
            say("full stack (SQLite): " + "; ".join(f"{b.rate:.0f}/s" for b in full))
            runs = [("SQLite", full)]
            if postgres:
                async with postgres_database(postgres) as url:
                    pg = await _full(fake, url, config)
                say("full stack (PostgreSQL): " + "; ".join(f"{b.rate:.0f}/s" for b in pg))
                runs.append(("PostgreSQL", pg))
    base = _best(bare)
    detail["bare"] = [b.__dict__ | {"rate": b.rate} for b in bare]
    for backend, bursts in runs:
        best = _best(bursts)
        ratio = best.rate / base.rate if base.rate else 0.0
        detail[f"full_{backend}"] = [b.__dict__ | {"rate": b.rate} for b in bursts]
        complete = best.answered == best.updates and base.answered == base.updates
        rows.append(
            Row(
                "3" if backend == "SQLite" else "3b",
                f"Per-update cost, {config.updates} updates ({backend})",
                f"{best.rate:.0f} vs bare {base.rate:.0f} upd/s = {ratio:.2f}",
                "≥ 0.50 of bare aiogram",
                ratio >= 0.5 and complete,
                [f"full: {_describe(best)}", f"bare: {_describe(base)}"],
            )
        )
        if any(b.other or b.answered < b.updates for b in bursts):
            rows[-1].notes.append(
                "bursts: "
                + ", ".join(f"{b.answered}/{b.updates} ok, {b.other} errors" for b in bursts)
            )
    return rows, detail
