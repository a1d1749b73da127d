"""Benchmark 5: resident memory of ``leadbot run`` with 100,000 leads in its database,
against a bare aiogram bot in the same run.

Each bot runs as its own process (long polling, default logging) against one fake Bot API
process that enforces Telegram's limits, one bot after the other. leadbot's SQLite file is
pre-filled with cloned leads, each with the walked lead's whole event history (17 events)
and a pending touch (one in ``due_every`` due now). Once a bot has started, the same new
prospects send /start (leadbot also fires the due touches), and then VmRSS (and the peak,
VmHWM) is read from /proc/<pid>/status. The bare bot (``bench/bare_bot.py``) echoes, and
waits out a 429 where leadbot's limiter paces its sends. Fresh interpreters then import
aiogram as it imports itself (every Telegram type built at import) and as ``leadbot run``
imports it (each type built when first used, ``app.aiogram_types``), then the database layer
and leadbot's modules, to show where the difference comes from.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.bot_proc import BARE, LEADBOT, BotProc, environment
from bench.fake_proc import FakeProc
from bench.results import Row, say
from bench.seeding import (
    MINI,
    ROOT,
    TIMEZONE,
    TOUCH_TEXT,
    clone,
    copy_history,
    drop_templates,
    load_mini,
    make_templates,
    sqlite_url,
)
from bot.service import utcnow
from storage.db import Database

TARGET_OVER_BARE_MB = 20.0  # issue 15: within 20 MB of a bare aiogram bot, same run

#: What importing costs, in a fresh interpreter: aiogram (as the bare bot imports it, or with
#: ``deferred`` as the first argument as ``leadbot run`` does), then the fixed stack's
#: database layer (SQLAlchemy's asyncio layer with aiosqlite), then leadbot's own modules of
#: ``leadbot run``. Printed as three VmRSS readings in MiB.
IMPORTS = """
import sys
def rss():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith('VmRSS'))
if sys.argv[1:] == ['deferred']:
    from app.aiogram_types import import_aiogram
    import_aiogram()
import aiogram, aiogram.types, aiogram.client.session.aiohttp
a = rss()
import sqlalchemy, sqlalchemy.ext.asyncio, aiosqlite, sqlalchemy.dialects.sqlite.aiosqlite
b = rss()
import cli, app.runner, app.factory, app.wiring, handlers, bot.service, storage.unit
print(a, b, rss())
"""
NEW_USERS = 6_000_000


@dataclass
class MemoryConfig:
    leads: int = 100_000
    updates: int = 100
    due_every: int = 1000  # one lead in this many has its touch due now


@dataclass
class Served:
    after_start: dict[str, float]
    after_work: dict[str, float]
    replies: int
    touches: int
    exit_code: int | None
    log_tail: list[str]
    errors: list[str]


async def serve(
    fake: FakeProc,
    argv: tuple[str, ...],
    env: dict[str, str],
    log: Path,
    *,
    updates: int,
    replies_each: int,
    leads: int = 0,
    due: int = 0,
) -> Served:
    """Start ``argv``, wait for its polling, send /start from ``updates`` new users, wait
    for ``replies_each`` replies to each and for ``due`` touches; read /proc; stop it."""
    async with BotProc(fake, argv, env, log) as bot:
        await asyncio.sleep(1.0)
        after_start = bot.memory()
        users = range(NEW_USERS, NEW_USERS + updates)
        pushed = await fake.push([{"kind": "message", "user": u, "text": "/start"} for u in users])
        answered = await fake.wait_count(
            replies_each * updates, 90, since=pushed["calls"], lo=users[0], hi=users[-1]
        )
        touches = await _touches(fake, leads, due, 90) if due else 0
        await asyncio.sleep(2.0)
        after_work = bot.memory()
    return Served(
        after_start,
        after_work,
        answered["count"],
        touches,
        bot.exit_code,
        bot.log_tail(),
        bot.log_errors(),
    )


async def run(config: MemoryConfig) -> tuple[Row, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "leads.db"
        db = Database(sqlite_url(path))
        try:
            await db.upgrade()
            templates = await make_templates(db, load_mini())
            start = time.perf_counter()
            now = utcnow()
            await clone(
                db,
                templates.touch,
                1,
                config.leads,
                due=now - timedelta(minutes=1),
                later=now + timedelta(days=30),
                due_every=config.due_every,
            )
            # The walked lead's whole history (17 events, as the demo produces), not one row.
            per_lead = await copy_history(db, templates.touch, 1, config.leads)
            await drop_templates(db, templates)
            say(
                f"seeded {config.leads} leads ({per_lead * config.leads} events) "
                f"in {time.perf_counter() - start:.1f}s "
                f"({path.stat().st_size / 2**20:.0f} MiB file)"
            )
        finally:
            await db.close()
        due = len(range(0, config.leads, config.due_every))
        # One fake with Telegram's limits for both, one bot at a time, the same /start
        # updates: leadbot paces itself with its limiter, the bare bot waits out 429s.
        async with FakeProc(global_rate=30, per_chat_rate=1, per_chat_burst=3) as fake:
            env = environment(
                fake, DATABASE_URL=sqlite_url(path), SCENARIO=str(MINI), TIMEZONE=TIMEZONE
            )
            bot = await serve(
                fake,
                LEADBOT,
                env,
                tmp / "leadbot.log",
                updates=config.updates,
                replies_each=2,  # a greeting and the first question
                leads=config.leads,
                due=due,
            )
            rejected = (await fake.info())["rejected_429"]
            say(f"leadbot: RSS {bot.after_work.get('VmRSS', 0):.0f} MB")
            await asyncio.sleep(1.5)  # the per-chat buckets of those users refill
            bare = await serve(
                fake,
                BARE,
                environment(fake),
                tmp / "bare.log",
                updates=config.updates,
                replies_each=1,
            )
            bare_rejected = (await fake.info())["rejected_429"] - rejected
            say(f"bare aiogram: RSS {bare.after_work.get('VmRSS', 0):.0f} MB")
        rss = bot.after_work.get("VmRSS", 0.0)
        base = bare.after_work.get("VmRSS", 0.0)
    eager_mb = (await _import_costs("eager"))[0]
    aiogram_mb, stack_mb, ours_mb = await _import_costs("deferred")
    detail = {
        "leads": config.leads,
        "rss_after_start_mb": bot.after_start.get("VmRSS", 0.0),
        "rss_mb": rss,
        "peak_mb": bot.after_work.get("VmHWM", 0.0),
        "bare_aiogram_rss_mb": base,
        "bare_aiogram_rss_after_start_mb": bare.after_start.get("VmRSS", 0.0),
        "bare_aiogram_peak_mb": bare.after_work.get("VmHWM", 0.0),
        "updates": config.updates,
        "replies": bot.replies,
        "touches_due": due,
        "touches_sent": bot.touches,
        "rejected_429": rejected,
        "bare_rejected_429": bare_rejected,
        "exit_code": bot.exit_code,
        "log_tail": bot.log_tail,
        "errors": bot.errors[:20],
        "bare_errors": bare.errors[:20],
        "bare_replies": bare.replies,
        "import_aiogram_eager_mb": eager_mb,
        "import_aiogram_mb": aiogram_mb,
        "import_database_layer_mb": stack_mb - aiogram_mb,
        "import_leadbot_mb": ours_mb - stack_mb,
    }
    ok = bot.replies >= 2 * config.updates and bot.touches >= due
    ok = ok and bare.replies >= config.updates and not bot.errors
    row = Row(
        "5",
        f"Memory of `leadbot run`, {config.leads // 1000}k leads",
        f"RSS {rss:.0f} MB (peak {detail['peak_mb']:.0f} MB); bare aiogram {base:.0f} MB",
        f"≤ bare + {TARGET_OVER_BARE_MB:.0f} MB",
        rss - base <= TARGET_OVER_BARE_MB and ok and base > 0,
        [
            f"after start {detail['rss_after_start_mb']:.0f} MB; served {config.updates} /start "
            f"({bot.replies} replies) and {bot.touches}/{due} due touches; "
            f"429s {rejected}; exit code {bot.exit_code}; errors logged {len(bot.errors)}",
            f"baseline: a bare aiogram echo bot, same fake, same updates: {base:.0f} MB "
            f"(after start {bare.after_start.get('VmRSS', 0.0):.0f} MB) "
            f"({bare.replies}/{config.updates} replies, 429s {bare_rejected}); "
            f"leadbot adds {rss - base:.0f} MB",
            f"imports alone (fresh interpreters): aiogram {eager_mb:.0f} MB as it imports "
            f"itself, {aiogram_mb:.0f} MB as `leadbot run` imports it (each Telegram type "
            f"built when first used, app/aiogram_types.py); then SQLAlchemy's asyncio layer "
            f"with aiosqlite +{stack_mb - aiogram_mb:.1f} MB; then leadbot's own modules "
            f"+{ours_mb - stack_mb:.1f} MB",
            f"with aiogram's types built at import, as the bare bot has them, leadbot would "
            f"hold at most {rss + eager_mb - aiogram_mb:.0f} MB, bare "
            f"+ {rss + eager_mb - aiogram_mb - base:.0f}",
        ],
    )
    return row, detail


async def _import_costs(aiogram_types: str) -> tuple[float, float, float]:
    """VmRSS after importing aiogram (``eager`` or ``deferred``), then the database layer,
    then leadbot (``IMPORTS``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        IMPORTS,
        aiogram_types,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"measuring the imports failed: {last[0]}")
    aiogram_mb, stack_mb, ours_mb = (float(x) for x in out.split())
    return aiogram_mb, stack_mb, ours_mb


async def _touches(fake: FakeProc, leads: int, due: int, timeout: float) -> int:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        calls = await fake.calls()
        sent = sum(
            1
            for c in calls
            if c[0] == "sendMessage" and c[3] == 200 and c[4] == TOUCH_TEXT and 1 <= c[1] <= leads
        )
        if sent >= due or time.monotonic() > deadline:
            return sent
        await asyncio.sleep(0.5)
