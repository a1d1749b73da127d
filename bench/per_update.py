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
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import CallbackQuery, Message
from sqlalchemy import event

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
BARE_USERS = 7_000_000
FULL_USERS = 8_000_000
UNLIMITED = dict(rate=1e6, per_chat=1e6, burst=10**6, chat_burst=10**6)


@dataclass(frozen=True)
class Kind:
    """One kind of update: what is pushed, and the reply each bot gives when it is done."""

    name: str
    reply: str  # leadbot's last reply (mini.yaml) that marks the update as handled
    bare_reply: str  # the bare bot's
    messages: int = 1  # leadbot's messages per update (/start: the greeting and a question)


#: A typed answer (cloned leads at q_about), a press of "Buy now" (clones at q_need), and
#: the /start of people never seen before (a new lead row each).
KINDS = (
    Kind("text answers", "Leave your phone?", ANSWER),
    Kind("button presses", "Your budget?", "pressed"),
    Kind("/start of new users", "What do you need?", "/start", messages=2),
)


@dataclass
class BurstConfig:
    updates: int = 2000
    warmup: int = 100
    pairs: int = 3  # interleaved (bare, leadbot) runs per kind


@dataclass
class Burst:
    updates: int
    seconds: float
    answered: int  # with the expected reply
    other: int  # answered with something else (the error handler's apology)
    bot_cpu: float
    fake_cpu: float
    statements: int = 0  # SQL statements the bot ran during the burst (leadbot only)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


def updates_for(kind: Kind, users: range, press_data: str) -> list[dict[str, Any]]:
    if kind.name == "button presses":
        return [{"kind": "callback", "user": u, "data": press_data} for u in users]
    text = "/start" if kind.bare_reply == "/start" else ANSWER
    return [{"kind": "message", "user": u, "text": text, "first_name": "Ann"} for u in users]


async def burst(
    fake: FakeProc,
    updates: list[dict[str, Any]],
    reply: str,
    timeout: float,  # noqa: ASYNC109
    messages: int = 1,
) -> Burst:
    """Push ``updates`` at once; wait for the expected ``reply`` to each (the last of
    ``messages`` sent per update; anything beyond those is an error reply)."""
    users = [int(u["user"]) for u in updates]
    cpu0, fake_cpu0 = time.process_time(), fake.cpu_seconds()
    pushed = await fake.push(updates)
    t0 = min(p[2] for p in pushed["pushed"])
    deadline = time.monotonic() + timeout
    while True:
        result = await fake.count(
            since=pushed["calls"], lo=min(users), hi=max(users), after=t0, text=reply
        )
        done = result["count"] + result["other"] >= len(users) * messages
        if result["count"] >= len(users) or done or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    seconds = (result["last"] or time.monotonic()) - t0
    return Burst(
        len(users),
        seconds,
        result["count"],
        max(0, result["other"] - result["count"] * (messages - 1)),
        time.process_time() - cpu0,
        fake.cpu_seconds() - fake_cpu0,
    )


async def _bare(fake: FakeProc, kind: Kind, first_user: int, config: BurstConfig) -> Burst:
    """A bare aiogram bot: echo a text, answer a press with one message. Warm-up, one burst."""
    bot = make_bot(TOKEN, fake.base_url)
    dp = Dispatcher()

    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        await bot.send_message(query.from_user.id, "pressed")

    dp.message.register(echo)
    dp.callback_query.register(pressed)
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
        warm = range(first_user, first_user + config.warmup)
        await burst(fake, updates_for(kind, warm, "x"), kind.bare_reply, 60)
        users = range(warm.stop, warm.stop + config.updates)
        return await burst(fake, updates_for(kind, users, "x"), kind.bare_reply, 120)
    finally:
        await dp.stop_polling()
        await polling
        await bot.session.close()


async def _full(fake: FakeProc, url: str, kind: Kind, config: BurstConfig) -> Burst:
    """The bot as ``leadbot run`` builds it, on a fresh database: warm-up, one burst."""
    db = Database(url)
    try:
        await db.upgrade()
        funnel = load_mini()
        templates = await make_templates(db, funnel)
        total = config.warmup + config.updates
        if kind.name == "text answers":
            await clone(db, templates.typed, FULL_USERS, total)
        elif kind.name == "button presses":
            await clone(db, templates.question, FULL_USERS, total)
        await drop_templates(db, templates)
        service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier())
        bot: Bot = make_bot(TOKEN, fake.base_url)
        channels = Channels(service.scenario, throttle=Throttle(**UNLIMITED))  # type: ignore[arg-type]
        dp = make_dispatcher(bot, service, channels)
        stop = asyncio.Event()
        polling = asyncio.create_task(serve_polling(bot, dp, stop, polling_timeout=10))
        try:
            warm = range(FULL_USERS, FULL_USERS + config.warmup)
            await burst(
                fake, updates_for(kind, warm, templates.press_data), kind.reply, 60, kind.messages
            )
            users = range(warm.stop, warm.stop + config.updates)
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            for engine in db.sync_engines:
                event.listen(engine, "before_cursor_execute", count)
            try:
                result = await burst(
                    fake,
                    updates_for(kind, users, templates.press_data),
                    kind.reply,
                    300,
                    kind.messages,
                )
            finally:
                for engine in db.sync_engines:
                    event.remove(engine, "before_cursor_execute", count)
            result.statements = statements
            return result
        finally:
            stop.set()
            await asyncio.wait_for(polling, 120)
            await bot.session.close()
    finally:
        await db.close()


def _cpu(b: Burst) -> str:
    return f"{b.bot_cpu / max(b.answered, 1) * 1000:.1f} ms CPU/update"


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def _describe(b: Burst) -> str:
    failed = f" ({b.other} got an error reply instead)" if b.other else ""
    per = max(b.answered, 1)
    sql = f", {b.statements / per:.1f} SQL statements/update" if b.statements else ""
    return (
        f"{b.answered}/{b.updates} answered{failed} in {b.seconds:.2f}s; bot CPU "
        f"{b.bot_cpu / per * 1000:.2f} ms/update, fake CPU "
        f"{b.fake_cpu / per * 1000:.2f} ms/update{sql}"
    )


async def run(config: BurstConfig, postgres: str | None) -> tuple[list[Row], dict[str, Any]]:
    """Per kind and backend, ``pairs`` interleaved (bare, leadbot) bursts; min/median/max."""
    detail: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp:
        async with FakeProc() as fake:
            backends = ["SQLite"] + (["PostgreSQL"] if postgres else [])
            bare_user = BARE_USERS
            for backend in backends:
                for kind in KINDS:
                    pairs: list[tuple[Burst, Burst]] = []
                    for i in range(config.pairs):
                        bare = await _bare(fake, kind, bare_user, config)
                        bare_user += config.warmup + config.updates
                        if backend == "SQLite":
                            url = sqlite_url(Path(tmp) / f"burst-{kind.name[:4]}-{i}.db")
                            full = await _full(fake, url, kind, config)
                        else:
                            assert postgres is not None
                            async with postgres_database(postgres) as url:
                                full = await _full(fake, url, kind, config)
                        pairs.append((bare, full))
                        say(
                            f"{backend}, {kind.name}, pair {i + 1}: bare {bare.rate:.0f}/s "
                            f"({_cpu(bare)}), leadbot {full.rate:.0f}/s ({_cpu(full)}, "
                            f"{full.statements / max(full.answered, 1):.1f} SQL/update)"
                        )
                    rows.append(_row(backend, kind, config, pairs))
                    detail[f"{backend} {kind.name}"] = [
                        {
                            "bare": b.__dict__ | {"rate": b.rate},
                            "full": f.__dict__ | {"rate": f.rate},
                        }
                        for b, f in pairs
                    ]
    return rows, detail


def _row(backend: str, kind: Kind, config: BurstConfig, pairs: list[tuple[Burst, Burst]]) -> Row:
    ratios = [f.rate / b.rate if b.rate else 0.0 for b, f in pairs]
    complete = all(b.answered == b.updates and f.answered == f.updates for b, f in pairs)
    median_pair = sorted(pairs, key=lambda p: p[1].rate / p[0].rate if p[0].rate else 0)[
        len(pairs) // 2
    ]
    fulls = [f for _, f in pairs]
    notes = [
        "leadbot/bare, min / median / max: " + _spread(ratios),
        f"median pair, leadbot: {_describe(median_pair[1])}",
        f"median pair, bare: {_describe(median_pair[0])}",
    ]
    if not complete:
        notes.append(
            "bursts: " + ", ".join(f"{f.answered}/{f.updates} ok, {f.other} errors" for f in fulls)
        )
    return Row(
        "3" if backend == "SQLite" else "3b",
        f"Per-update cost, {kind.name}, {config.updates} updates ({backend})",
        f"median {statistics.median(ratios):.2f} of bare aiogram "
        f"({statistics.median(f.rate for f in fulls):.0f} upd/s); "
        f"{statistics.median(f.statements / max(f.answered, 1) for f in fulls):.1f} SQL/update",
        "≥ 0.50 of bare aiogram",
        statistics.median(ratios) >= 0.5 and complete,
        notes,
    )
