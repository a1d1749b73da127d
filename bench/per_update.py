"""Benchmark 3: what one update costs ``leadbot run``, against a bare aiogram bot.

Both bots run as processes of their own against one fake Bot API process (no limits here)
that serves them as two bots, each with its own port and update queue: ``leadbot run``
exactly as an operator starts it (long polling, its default logging, settings from
environment variables; SEND_RATE and CHAT_RATE at their maxima so its limiter never waits),
and ``bench/bare_bot.py``, an aiogram bot that echoes. A burst of updates goes into a bot's
getUpdates queue at once; the time until the last expected reply reaches the fake gives
updates per second, and the bot's CPU time (utime + stime from /proc/<pid>/stat, read
before the burst and after its last reply) gives CPU per update.

Three kinds of update: a typed answer (leads cloned at a typed question, a timer pending),
a button press (leads at a question with buttons) and the /start of people never seen
before. Both processes get a warm-up burst of each kind; then, ``pairs`` times, each kind
is a burst to the bare bot and right after it one to leadbot (the other bot idles in its
long poll meanwhile): min / median / max of leadbot/bare over the pairs. Besides the leads
the updates go to, leadbot's database holds ``background`` leads cloned from one the
engine walked to the end of the funnel, each with that lead's whole event history (17
events), as a running bot's tables look.

SQL statements (and transactions) per update are counted in a separate, untimed pass in the
benchmark's own process: the dispatcher and service ``leadbot run`` builds
(``make_dispatcher``, ``serve_polling``) on the same kind of database, counting what runs
while an update is being handled (the touch loop and heartbeats are left out).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot

from app.factory import make_bot, make_dispatcher
from app.runner import serve_polling
from bench.bot_proc import BARE, LEADBOT, BotProc, environment
from bench.fake_proc import TOKEN, FakeProc, process_cpu_seconds, server_cpu_seconds
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
    settle,
    sqlite_url,
)
from bench.statements import counting, mark_updates, per_update
from bot.qualification import OfflineQualifier
from bot.service import FunnelService, ScenarioHolder
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from storage.db import Database

ANSWER = "We are twelve people with one small kitchen"
#: The limiter's ceilings (bot/settings.py): far above what one process sends here. (At
#: 1,000 a second, the old ceiling, a 2,000-update /start burst on a fast machine was paced:
#: 655 /start a second on SQLite and PostgreSQL alike, the limiter's 1,000 a second after its
#: burst of 1,000, not the bot's cost.)
UNLIMITED_SETTINGS = {"SEND_RATE": "100000", "CHAT_RATE": "100"}
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
    # Interleaved (bare, leadbot) runs. Five, not the three the issue asks for at least: a
    # 2-core VM's speed drifts by up to 2x within minutes, and a median of three is one
    # slow phase away from either verdict.
    pairs: int = 5
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
    server_cpu: float | None = None  # the local database server's, when it is read

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
class Side:
    """One bot process: its measured bursts (a dict of kind → burst per pair), its log."""

    pairs: list[dict[str, Burst]] = field(default_factory=list)
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
    server: str | None = None,
) -> Burst:
    """Push ``updates`` at once; wait for the expected ``reply`` to each (the last of
    ``messages`` sent per update; anything beyond those is an error reply). ``pid``'s CPU
    time is read before the push and once the last reply is in (no ``pid``: not read), and
    so is that of the processes named ``server`` (the database server's, when local)."""

    def cpu() -> float:
        return process_cpu_seconds(pid) if pid is not None else 0.0

    users = [int(u["user"]) for u in updates]
    server0 = server_cpu_seconds(server) if server else None
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
    server1 = server_cpu_seconds(server) if server else None
    seconds = (result["last"] or time.monotonic()) - t0
    return Burst(
        len(users),
        seconds,
        result["count"],
        max(0, result["other"] - result["count"] * (messages - 1)),
        cpu1 - cpu0,
        fake.cpu_seconds() - fake_cpu0,
        server1 - server0 if server0 is not None and server1 is not None else None,
    )


def _users(kind: Kind, first: int, config: BurstConfig, pair: int | None) -> range:
    """The warm-up's users (``pair`` None), or those of a pair's burst."""
    if pair is None:
        return range(first, first + config.warmup)
    start = first + config.warmup + pair * config.updates
    return range(start, start + config.updates)


async def _side_by_side(
    fake: FakeProc, url: str, logs: Path, config: BurstConfig, backend: str
) -> tuple[Side, Side]:
    """Seed leadbot's database, start both bots, warm each up, then the interleaved pairs."""
    press_data = await seed(url, config)
    bare_fake, lead_fake = fake, fake.bot(1)
    env = environment(
        lead_fake, DATABASE_URL=url, SCENARIO=str(MINI), TIMEZONE=TIMEZONE, **UNLIMITED_SETTINGS
    )
    bare = BotProc(bare_fake, BARE, environment(bare_fake), logs / f"bare-{backend}.log")
    lead = BotProc(lead_fake, LEADBOT, env, logs / f"leadbot-{backend}.log")
    sides = Side(), Side()
    async with running(bare, lead):
        for pair in (None, *range(config.pairs)):
            bursts: tuple[dict[str, Burst], dict[str, Burst]] = {}, {}
            for n, kind in enumerate(KINDS):
                bare_users = _users(kind, BARE_USERS + n * 100_000, config, pair)
                bursts[0][kind.name] = await burst(
                    bare_fake,
                    bare.pid,
                    updates_for(kind, bare_users, "x"),
                    kind.bare_reply,
                    300,
                )
                lead_users = _users(kind, kind.first_user, config, pair)
                bursts[1][kind.name] = await burst(
                    lead_fake,
                    lead.pid,
                    updates_for(kind, lead_users, press_data),
                    kind.reply,
                    600,
                    kind.messages,
                    "postgres" if backend == "PostgreSQL" else None,
                )
            if pair is not None:  # not the warm-up
                sides[0].pairs.append(bursts[0])
                sides[1].pairs.append(bursts[1])
                b, f = bursts
                say(
                    f"{backend}, pair {pair + 1}: "
                    + "; ".join(
                        f"{k.name} bare {b[k.name].rate:.0f}/s ({b[k.name].cpu_ms:.2f} ms CPU), "
                        f"leadbot {f[k.name].rate:.0f}/s ({f[k.name].cpu_ms:.2f} ms CPU)"
                        + (f", {f[k.name].failed} FAILED" if f[k.name].failed else "")
                        for k in KINDS
                    )
                )
    for side, proc in zip(sides, (bare, lead), strict=True):
        side.errors, side.exit_code = proc.log_errors(), proc.exit_code
    return sides


@asynccontextmanager
async def running(*bots: BotProc) -> AsyncIterator[None]:
    """Start the bots side by side (their start-up is mostly imports); stop them all."""
    started = await asyncio.gather(*(b.__aenter__() for b in bots), return_exceptions=True)
    try:
        for result in started:
            if isinstance(result, BaseException):
                raise result
        yield
    finally:
        for bot in bots:
            await bot.stop()


async def seed(url: str, config: BurstConfig) -> str:
    """Migrate and fill a database; returns the callback data of "Buy now" for the clones."""
    db = Database(url)
    try:
        await db.upgrade()
        templates = await make_templates(db, load_mini())
        await clone(db, templates.touch, 1, config.background)
        await copy_history(db, templates.touch, 1, config.background)
        size = config.warmup + max(config.updates * config.pairs, config.counted)
        for kind, template in ((KINDS[0], templates.typed), (KINDS[1], templates.question)):
            await clone(db, template, kind.first_user, size)
            await copy_history(db, template, kind.first_user, size)
        await drop_templates(db, templates)
        await settle(db)
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


async def count_statements(fake: FakeProc, url: str, config: BurstConfig) -> dict[str, Any]:
    """The untimed pass: statements and transactions per update of each kind, in-process."""
    press_data = await seed(url, config)
    db = Database(url)
    await db.load_known_leads()  # as ``leadbot run`` does at start (``app.maintenance``)
    bot: Bot = make_bot(TOKEN, fake.base_url)
    counted: dict[str, Any] = {}
    try:
        service = FunnelService(db, ScenarioHolder(load_mini()), OfflineQualifier())
        limits = Throttle(rate=1e6, per_chat=1e6, burst=10**6, chat_burst=10**6)
        dp = make_dispatcher(bot, service, Channels(service.scenario, throttle=limits))
        mark_updates(dp)
        stop = asyncio.Event()
        polling = asyncio.create_task(serve_polling(bot, dp, stop, polling_timeout=10))
        try:
            for kind in KINDS:
                warm = _users(kind, kind.first_user, config, None)
                users = range(warm.stop, warm.stop + config.counted)
                pushed = updates_for(kind, warm, press_data)
                await burst(fake, None, pushed, kind.reply, 60, kind.messages)
                with counting(db) as counts:
                    pushed = updates_for(kind, users, press_data)
                    done = await burst(fake, None, pushed, kind.reply, 120, kind.messages)
                counted[kind.name] = per_update(counts, done.answered)
        finally:
            stop.set()
            await asyncio.wait_for(polling, 120)
            await fake.clear()
    finally:
        await bot.session.close()
        await db.close()
    return counted


async def run(config: BurstConfig, postgres: str | None) -> tuple[list[Row], dict[str, Any]]:
    """Per backend: the counting pass, then both bots side by side for the timed pairs."""
    detail: dict[str, Any] = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with FakeProc(bots=2) as fake:
            for backend in ["SQLite"] + (["PostgreSQL"] if postgres else []):
                async with database(backend, tmp, "counted", postgres) as url:
                    sql = await count_statements(fake.bot(1), url, config)
                say(
                    f"{backend}, SQL per update: "
                    + ", ".join(
                        f"{k} {v['statements']:.1f} ({v['transactions']:.1f} transactions)"
                        for k, v in sql.items()
                    )
                )
                async with database(backend, tmp, "leadbot", postgres) as url:
                    bare, lead = await _side_by_side(fake, url, tmp, config, backend)
                if lead.errors or bare.errors:
                    say(f"logged errors: leadbot {len(lead.errors)}, bare {len(bare.errors)}")
                for kind in KINDS:
                    rows.append(_row(backend, kind, config, bare, lead, sql[kind.name]))
                detail[backend] = {
                    "statements": sql,
                    "pairs": [
                        {
                            kind.name: {
                                "bare": b[kind.name].__dict__ | {"rate": b[kind.name].rate},
                                "leadbot": f[kind.name].__dict__ | {"rate": f[kind.name].rate},
                            }
                            for kind in KINDS
                        }
                        for b, f in zip(bare.pairs, lead.pairs, strict=True)
                    ],
                    "errors": {"bare": bare.errors[:20], "leadbot": lead.errors[:20]},
                    "exit_codes": {"bare": bare.exit_code, "leadbot": lead.exit_code},
                }
    return rows, detail


def _spread(values: list[float], digits: int = 2) -> str:
    return " / ".join(
        f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values))
    )


def _share(cpu: float, burst: Burst) -> float:
    return cpu / burst.seconds * 100 if burst.seconds else 0.0


def _server_note(pairs: list[tuple[Burst, Burst]]) -> list[str]:
    """The database server's CPU per update in leadbot's bursts, when it ran on this machine
    (PostgreSQL: the third process sharing the cores; its background workers count too)."""
    used = [f.server_cpu / max(f.answered, 1) * 1000 for _, f in pairs if f.server_cpu is not None]
    if len(used) != len(pairs):
        return []
    return [f"CPU ms/update of the PostgreSQL server (all its processes): {_spread(used)}"]


def _row(
    backend: str,
    kind: Kind,
    config: BurstConfig,
    bare: Side,
    lead: Side,
    sql: dict[str, Any],
) -> Row:
    pairs = [(b[kind.name], f[kind.name]) for b, f in zip(bare.pairs, lead.pairs, strict=True)]
    ratios = [f.rate / b.rate if b.rate else 0.0 for b, f in pairs]
    failed = sum(f.failed for _, f in pairs)
    fine = failed == 0 and not lead.errors and lead.exit_code == 0
    median = statistics.median(ratios)
    notes = [
        f"leadbot/bare, min / median / max: {_spread(ratios)}",
        f"upd/s, leadbot: {_spread([f.rate for _, f in pairs], 0)}; "
        f"bare: {_spread([b.rate for b, _ in pairs], 0)}",
        f"CPU ms/update, leadbot: {_spread([f.cpu_ms for _, f in pairs])}; "
        f"bare: {_spread([b.cpu_ms for b, _ in pairs])}; fake Bot API (leadbot's bursts): "
        f"{_spread([f.fake_cpu / max(f.answered, 1) * 1000 for _, f in pairs])}",
        *_server_note(pairs),
        "CPU used / wall time of the bursts, bare bot: "
        + _spread([_share(b.bot_cpu, b) for b, _ in pairs], 0)
        + " %, the fake then: "
        + _spread([_share(b.fake_cpu, b) for b, _ in pairs], 0)
        + " %; leadbot: "
        + _spread([_share(f.bot_cpu, f) for _, f in pairs], 0)
        + " % (under 100 %: the bot waited, for a core, the fake or the database)",
        f"SQL per update {sql['statements']:.1f} in {sql['transactions']:.1f} transactions "
        f"(counting pass, {sql['answered']} updates): "
        + ", ".join(
            f"{name.removeprefix('statement: ')} ×{n:g}" for name, n in sql["which"].items()
        ),
        f"failed updates {failed} of {config.updates * len(pairs)}; errors logged by "
        f"leadbot {len(lead.errors)}, by the bare bot {len(bare.errors)}; exit codes "
        f"{lead.exit_code} / {bare.exit_code}",
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
