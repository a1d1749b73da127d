"""Benchmark 3: what one update costs ``leadbot run``, against a bare aiogram bot.

Both bots run as processes of their own against the fake Bot API (itself a third process,
with no limits here): ``leadbot run`` exactly as an operator starts it (long polling, its
default logging, settings from environment variables; SEND_RATE and CHAT_RATE set to their
maxima so its limiter never waits), and ``bench/bare_bot.py``, an aiogram bot that echoes.
A burst of updates goes into the fake's getUpdates queue at once; the time until the last
expected reply reaches the fake gives updates per second, and the bot's CPU time (utime +
stime from /proc/<pid>/stat, read before and after the burst) gives CPU per update.

Three kinds of update: a typed answer (leads cloned at a typed question, a timer pending),
a button press (leads at a question with buttons) and the /start of people never seen
before. Each process gets a warm-up burst of each kind first. The pairs are interleaved, one
bot at a time: bare, leadbot (a freshly seeded database), bare, leadbot…; min / median / max
of leadbot/bare over the pairs. Every leadbot database holds, besides the leads the updates
go to, ``background`` leads cloned from one the engine walked to the end of the funnel, each
with that lead's whole event history (17 events), as a running bot's tables look.

SQL statements (and transactions) per update are counted in a separate, untimed pass in the
benchmark's own process: the dispatcher and service ``leadbot run`` builds
(``make_dispatcher``, ``serve_polling``) on the same kind of database, counting what runs
while an update is being handled (the touch loop and heartbeats are left out).
"""

from __future__ import annotations

import asyncio
import contextvars
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.types import Update
from sqlalchemy import event

from app.factory import make_bot, make_dispatcher
from app.runner import serve_polling
from bench.bot_proc import BARE, LEADBOT, BotProc, environment
from bench.fake_proc import TOKEN, FakeProc, process_cpu_seconds
from bench.results import Row, say
from bench.seeding import (
    MINI,
    TIMEZONE,
    clone,
    copy_history,
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
#: The limiter's ceilings (bot/settings.py): far above what one process sends here.
UNLIMITED_SETTINGS = {"SEND_RATE": "1000", "CHAT_RATE": "100"}
BARE_USERS = 7_000_000


@dataclass(frozen=True)
class Kind:
    """One kind of update: what is pushed, and the reply each bot gives when it is done."""

    name: str
    reply: str  # leadbot's last reply (mini.yaml) that marks the update as handled
    bare_reply: str  # the bare bot's
    first_user: int  # leadbot's users of this kind: first_user, first_user + 1, …
    messages: int = 1  # leadbot's messages per update (/start: the greeting and a question)


#: A typed answer (clones at q_about, a timer pending), a press of "Buy now" (clones at
#: q_need), and the /start of people never seen before (a new lead row each).
KINDS = (
    Kind("text answers", "Leave your phone?", ANSWER, 8_000_000),
    Kind("button presses", "Your budget?", "pressed", 8_100_000),
    Kind("/start of new users", "What do you need?", "/start", 8_200_000, messages=2),
)


@dataclass
class BurstConfig:
    updates: int = 2000
    warmup: int = 100
    pairs: int = 3  # interleaved (bare, leadbot) runs
    background: int = 10_000  # leads with a whole history besides those the updates go to
    counted: int = 200  # updates per kind in the statement-counting pass


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

    @property
    def failed(self) -> int:
        return self.updates - self.answered

    @property
    def cpu_ms(self) -> float:
        return self.bot_cpu / max(self.answered, 1) * 1000


@dataclass
class Run:
    """One bot process: a measured burst of each kind, and what it logged."""

    bursts: dict[str, Burst] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    exit_code: int | None = None


def updates_for(kind: Kind, users: range, press_data: str) -> list[dict[str, Any]]:
    if kind.bare_reply == "pressed":
        return [{"kind": "callback", "user": u, "data": press_data} for u in users]
    text = "/start" if kind.bare_reply == "/start" else ANSWER
    return [{"kind": "message", "user": u, "text": text, "first_name": "Ann"} for u in users]


async def burst(
    fake: FakeProc,
    pid: int | None,
    updates: list[dict[str, Any]],
    reply: str,
    timeout: float,  # noqa: ASYNC109
    messages: int = 1,
) -> Burst:
    """Push ``updates`` at once; wait for the expected ``reply`` to each (the last of
    ``messages`` sent per update; anything beyond those is an error reply). ``pid``'s CPU
    time is read before the push and once the last reply is in (no ``pid``: not read)."""

    def cpu() -> float:
        return process_cpu_seconds(pid) if pid is not None else 0.0

    users = [int(u["user"]) for u in updates]
    cpu0, fake_cpu0 = cpu(), fake.cpu_seconds()
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
        await asyncio.sleep(0.1)  # the times come from the fake's clock, not from here
    cpu1 = cpu()
    seconds = (result["last"] or time.monotonic()) - t0
    return Burst(
        len(users),
        seconds,
        result["count"],
        max(0, result["other"] - result["count"] * (messages - 1)),
        cpu1 - cpu0,
        fake.cpu_seconds() - fake_cpu0,
    )


def _users(first: int, config: BurstConfig) -> tuple[range, range]:
    warm = range(first, first + config.warmup)
    return warm, range(warm.stop, warm.stop + config.updates)


async def _bare(fake: FakeProc, tmp: Path, config: BurstConfig, pair: int) -> Run:
    """``python -m bench.bare_bot``: a warm-up and a measured burst of each kind."""
    run = Run()
    first = BARE_USERS + pair * 3 * (config.warmup + config.updates)
    async with BotProc(fake, BARE, environment(fake), tmp / f"bare-{pair}.log") as bot:
        for n, kind in enumerate(KINDS):
            warm, users = _users(first + n * (config.warmup + config.updates), config)
            await burst(fake, bot.pid, updates_for(kind, warm, "x"), kind.bare_reply, 60)
            run.bursts[kind.name] = await burst(
                fake, bot.pid, updates_for(kind, users, "x"), kind.bare_reply, 300
            )
    run.errors, run.exit_code = bot.log_errors(), bot.exit_code
    return run


async def _leadbot(fake: FakeProc, url: str, log: Path, config: BurstConfig) -> Run:
    """``leadbot run`` on a freshly seeded database: a warm-up and a measured burst of each
    kind."""
    run = Run()
    press_data = await seed(url, config)
    env = environment(
        fake, DATABASE_URL=url, SCENARIO=str(MINI), TIMEZONE=TIMEZONE, **UNLIMITED_SETTINGS
    )
    async with BotProc(fake, LEADBOT, env, log) as bot:
        for kind in KINDS:
            warm, users = _users(kind.first_user, config)
            await burst(
                fake,
                bot.pid,
                updates_for(kind, warm, press_data),
                kind.reply,
                120,
                kind.messages,
            )
            run.bursts[kind.name] = await burst(
                fake,
                bot.pid,
                updates_for(kind, users, press_data),
                kind.reply,
                600,
                kind.messages,
            )
    run.errors, run.exit_code = bot.log_errors(), bot.exit_code
    return run


async def seed(url: str, config: BurstConfig) -> str:
    """Migrate and fill a database; returns the callback data of "Buy now" for the clones."""
    db = Database(url)
    try:
        await db.upgrade()
        templates = await make_templates(db, load_mini())
        await clone(db, templates.touch, 1, config.background)
        await copy_history(db, templates.touch, 1, config.background)
        size = config.warmup + max(config.updates, config.counted)
        for kind, template in zip(KINDS, (templates.typed, templates.question), strict=False):
            await clone(db, template, kind.first_user, size)
            await copy_history(db, template, kind.first_user, size)
        await drop_templates(db, templates)
        return templates.press_data
    finally:
        await db.close()


@asynccontextmanager
async def database(backend: str, tmp: Path, name: str, postgres: str | None) -> AsyncIterator[str]:
    if backend == "SQLite":
        yield sqlite_url(tmp / f"{name}.db")
        return
    assert postgres is not None
    async with postgres_database(postgres) as url:
        yield url


_IN_UPDATE: contextvars.ContextVar[bool] = contextvars.ContextVar("in_update", default=False)


@contextmanager
def counting(db: Database) -> Iterator[Counter[str]]:
    """Statements and transactions run while an update is being handled, and each
    statement's first words (``statement: INSERT INTO events``)."""
    counts: Counter[str] = Counter()

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if _IN_UPDATE.get():
            counts["statements"] += 1
            counts["statement: " + " ".join(sql.split()[:3])] += 1

    def begin(*_: Any) -> None:
        if _IN_UPDATE.get():
            counts["transactions"] += 1

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)


async def count_statements(fake: FakeProc, url: str, config: BurstConfig) -> dict[str, Any]:
    """The untimed pass: statements and transactions per update of each kind, in-process."""
    press_data = await seed(url, config)
    db = Database(url)
    bot: Bot = make_bot(TOKEN, fake.base_url)
    counted: dict[str, Any] = {}
    try:
        service = FunnelService(db, ScenarioHolder(load_mini()), OfflineQualifier())
        limits = Throttle(rate=1e6, per_chat=1e6, burst=10**6, chat_burst=10**6)
        dp = make_dispatcher(bot, service, Channels(service.scenario, throttle=limits))
        feed = dp.feed_update

        async def feed_marked(bot: Bot, update: Update, **kwargs: Any) -> Any:
            _IN_UPDATE.set(True)  # this update's task only: its context is its own
            return await feed(bot, update, **kwargs)

        dp.feed_update = feed_marked  # type: ignore[method-assign]
        stop = asyncio.Event()
        polling = asyncio.create_task(serve_polling(bot, dp, stop, polling_timeout=10))
        try:
            for kind in KINDS:
                warm = range(kind.first_user, kind.first_user + config.warmup)
                users = range(warm.stop, warm.stop + config.counted)
                pushed = updates_for(kind, warm, press_data)
                await burst(fake, None, pushed, kind.reply, 60, kind.messages)
                with counting(db) as counts:
                    pushed = updates_for(kind, users, press_data)
                    done = await burst(fake, None, pushed, kind.reply, 120, kind.messages)
                per = max(done.answered, 1)
                counted[kind.name] = {
                    "statements": counts.pop("statements", 0) / per,
                    "transactions": counts.pop("transactions", 0) / per,
                    "answered": done.answered,
                    "which": {k: round(n / per, 2) for k, n in sorted(counts.items())},
                }
        finally:
            stop.set()
            await asyncio.wait_for(polling, 120)
            await fake.clear()
    finally:
        await bot.session.close()
        await db.close()
    return counted


async def run(config: BurstConfig, postgres: str | None) -> tuple[list[Row], dict[str, Any]]:
    """Per backend: the counting pass, then ``pairs`` interleaved (bare, leadbot) processes."""
    detail: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with FakeProc() as fake:
            backends = ["SQLite"] + (["PostgreSQL"] if postgres else [])
            pair = 0
            for backend in backends:
                async with database(backend, tmp, "counted", postgres) as url:
                    sql = await count_statements(fake, url, config)
                say(
                    f"{backend}, SQL per update: "
                    + ", ".join(
                        f"{k} {v['statements']:.1f} ({v['transactions']:.1f} transactions)"
                        for k, v in sql.items()
                    )
                )
                runs: list[tuple[Run, Run]] = []
                for i in range(config.pairs):
                    bare = await _bare(fake, tmp, config, pair)
                    pair += 1
                    async with database(backend, tmp, f"leadbot-{i}", postgres) as url:
                        log = tmp / f"leadbot-{backend}-{i}.log"
                        full = await _leadbot(fake, url, log, config)
                    runs.append((bare, full))
                    for kind in KINDS:
                        b, f = bare.bursts[kind.name], full.bursts[kind.name]
                        say(
                            f"{backend}, pair {i + 1}, {kind.name}: bare {b.rate:.0f}/s "
                            f"({b.cpu_ms:.2f} ms CPU/update), leadbot {f.rate:.0f}/s "
                            f"({f.cpu_ms:.2f} ms CPU/update), leadbot/bare "
                            f"{f.rate / b.rate if b.rate else 0:.2f}"
                            + (f"; {f.failed} FAILED" if f.failed else "")
                        )
                    if full.errors or bare.errors:
                        say(f"logged errors: leadbot {len(full.errors)}, bare {len(bare.errors)}")
                for kind in KINDS:
                    rows.append(_row(backend, kind, config, runs, sql[kind.name]))
                detail[backend] = {
                    "statements": sql,
                    "pairs": [
                        {
                            side: {
                                "bursts": {
                                    k: b.__dict__ | {"rate": b.rate} for k, b in r.bursts.items()
                                },
                                "errors": r.errors[:20],
                                "exit_code": r.exit_code,
                            }
                            for side, r in (("bare", bare), ("leadbot", full))
                        }
                        for bare, full in runs
                    ],
                }
    return rows, detail


def _spread(values: list[float], digits: int = 2) -> str:
    return " / ".join(
        f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values))
    )


def _row(
    backend: str,
    kind: Kind,
    config: BurstConfig,
    runs: list[tuple[Run, Run]],
    sql: dict[str, Any],
) -> Row:
    pairs = [(b.bursts[kind.name], f.bursts[kind.name]) for b, f in runs]
    ratios = [f.rate / b.rate if b.rate else 0.0 for b, f in pairs]
    failed = sum(f.failed for _, f in pairs)
    errors = sum(len(f.errors) for _, f in runs)
    fine = failed == 0 and errors == 0 and all(f.exit_code == 0 for _, f in runs)
    median = statistics.median(ratios)
    notes = [
        f"leadbot/bare, min / median / max: {_spread(ratios)}",
        f"upd/s, leadbot: {_spread([f.rate for _, f in pairs], 0)}; "
        f"bare: {_spread([b.rate for b, _ in pairs], 0)}",
        f"CPU ms/update, leadbot: {_spread([f.cpu_ms for _, f in pairs])}; "
        f"bare: {_spread([b.cpu_ms for b, _ in pairs])}; fake Bot API (leadbot's bursts): "
        f"{_spread([f.fake_cpu / max(f.answered, 1) * 1000 for _, f in pairs])}",
        "the fake Bot API's CPU during the bare bursts, share of their wall time: "
        + _spread([b.fake_cpu / b.seconds * 100 if b.seconds else 0.0 for b, _ in pairs], 0)
        + " % (near 100 %: the bare bot's rate is bounded by the fake, not by aiogram)",
        f"SQL per update {sql['statements']:.1f} in {sql['transactions']:.1f} transactions "
        f"(counting pass, {sql['answered']} updates)",
        f"failed updates {failed} of {config.updates * len(pairs)}; "
        f"errors logged by leadbot {errors}; exit codes {[f.exit_code for _, f in runs]}",
    ]
    return Row(
        "3" if backend == "SQLite" else "3b",
        f"Per-update cost, {kind.name}, {config.updates} updates ({backend})",
        f"median {median:.2f} of bare aiogram "
        f"({statistics.median(f.rate for _, f in pairs):.0f} vs "
        f"{statistics.median(b.rate for b, _ in pairs):.0f} upd/s); "
        f"{sql['statements']:.1f} SQL/update",
        "≥ 0.50 of bare aiogram, 0 failed",
        median >= 0.5 and fine,
        notes,
    )
