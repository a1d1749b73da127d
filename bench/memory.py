"""Benchmark 5: resident memory of ``python -m bot run`` with 100,000 leads in its database.

The bot runs as its own process (long polling) against the fake Bot API with Telegram's
limits, on an SQLite file pre-filled with cloned leads, each with a pending touch (one in a
thousand due now). Once it has started, new prospects send /start, the due touches fire, and
then VmRSS (and the peak, VmHWM) is read from /proc/<pid>/status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.fake_proc import TOKEN, FakeProc
from bench.results import Row, say
from bench.seeding import (
    MINI,
    ROOT,
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
NEW_USERS = 6_000_000


@dataclass
class MemoryConfig:
    leads: int = 100_000
    updates: int = 100
    due_every: int = 1000  # one lead in this many has its touch due now


def status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM etc. of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Vm"):
            name, value = line.split(":", 1)
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[name] = int(parts[0]) / 1024
    return out


#: The baseline: a bare aiogram bot (one echo handler, long polling), run the same way.
BARE_BOT = """
import asyncio, os
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Message

async def echo(message: Message) -> None:
    for _ in range(20):  # the same fake and limits as leadbot: wait out a 429, as it does
        try:
            await message.answer(message.text or "?")
            return
        except TelegramRetryAfter as exc:
            await asyncio.sleep(exc.retry_after)

async def main() -> None:
    api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"])
    bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=api))
    dp = Dispatcher()
    dp.message.register(echo)
    await bot.delete_webhook()
    await dp.start_polling(bot, polling_timeout=10)

asyncio.run(main())
"""


@dataclass
class Served:
    after_start: dict[str, float]
    after_work: dict[str, float]
    replies: int
    touches: int
    rejected_429: int
    exit_code: int | None
    log_tail: list[str]


async def serve(
    fake: FakeProc,
    argv: list[str],
    env: dict[str, str],
    tmp: Path,
    *,
    updates: int,
    replies_each: int,
    leads: int = 0,
    due: int = 0,
) -> Served:
    """Start ``argv``, wait for its polling, send /start from ``updates`` new users, wait
    for ``replies_each`` replies to each and for ``due`` touches; read /proc; stop it."""
    log_path = tmp / f"{argv[-1]}.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(*argv, cwd=tmp, env=env, stdout=log, stderr=log)
        try:
            await _until_polling(fake, proc, 90)
            await asyncio.sleep(1.0)
            after_start = status(proc.pid)
            users = range(NEW_USERS, NEW_USERS + updates)
            pushed = await fake.push(
                [{"kind": "message", "user": u, "text": "/start"} for u in users]
            )
            answered = await fake.wait_count(
                replies_each * updates, 90, since=pushed["calls"], lo=users[0], hi=users[-1]
            )
            touches = await _touches(fake, leads, due, 90) if due else 0
            await asyncio.sleep(2.0)
            after_work = status(proc.pid)
            info = await fake.info()
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 40)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
    tail = log_path.read_text(errors="replace").splitlines()[-15:]
    return Served(
        after_start,
        after_work,
        answered["count"],
        touches,
        info["rejected_429"],
        proc.returncode,
        tail,
    )


def _environment(fake: FakeProc, database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "WEBHOOK_", "MANAGER_", "ADMIN_", "MALLOC_"))
    }
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.base_url,
        DATABASE_URL=database_url,
        SCENARIO=str(MINI),
        TIMEZONE="Europe/Moscow",
        PYTHONPATH=str(ROOT),
    )
    return env


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
        async with FakeProc(global_rate=30, per_chat_rate=1, per_chat_burst=3) as fake:
            env = _environment(fake, sqlite_url(path))
            bot = await serve(
                fake,
                [sys.executable, "-m", "bot", "run"],
                env,
                tmp,
                updates=config.updates,
                replies_each=2,  # a greeting and the first question
                leads=config.leads,
                due=due,
            )
            say(f"leadbot: RSS {bot.after_work.get('VmRSS', 0):.0f} MB")
        # The same fake, limits and updates: the bare bot waits out 429s instead of a limiter.
        async with FakeProc(global_rate=30, per_chat_rate=1, per_chat_burst=3) as fake:
            bare = await serve(
                fake,
                [sys.executable, "-c", BARE_BOT, "bare"],
                _environment(fake, ""),
                tmp,
                updates=config.updates,
                replies_each=1,
            )
            say(f"bare aiogram: RSS {bare.after_work.get('VmRSS', 0):.0f} MB")
        rss = bot.after_work.get("VmRSS", 0.0)
        base = bare.after_work.get("VmRSS", 0.0)
    detail = {
        "leads": config.leads,
        "rss_after_start_mb": bot.after_start.get("VmRSS", 0.0),
        "rss_mb": rss,
        "peak_mb": bot.after_work.get("VmHWM", 0.0),
        "bare_aiogram_rss_mb": base,
        "bare_aiogram_peak_mb": bare.after_work.get("VmHWM", 0.0),
        "updates": config.updates,
        "replies": bot.replies,
        "touches_due": due,
        "touches_sent": bot.touches,
        "rejected_429": bot.rejected_429,
        "exit_code": bot.exit_code,
        "log_tail": bot.log_tail,
        "bare_replies": bare.replies,
    }
    ok = bot.replies >= 2 * config.updates and bot.touches >= due
    row = Row(
        "5",
        f"Memory of `python -m bot run`, {config.leads // 1000}k leads",
        f"RSS {rss:.0f} MB (peak {detail['peak_mb']:.0f} MB); bare aiogram {base:.0f} MB",
        f"≤ bare + {TARGET_OVER_BARE_MB:.0f} MB",
        rss - base <= TARGET_OVER_BARE_MB and ok and base > 0,
        [
            f"after start {detail['rss_after_start_mb']:.0f} MB; served {config.updates} /start "
            f"({bot.replies} replies) and {bot.touches}/{due} due touches; "
            f"429s {bot.rejected_429}; exit code {bot.exit_code}",
            f"baseline: a bare aiogram echo bot, same fake, same updates: {base:.0f} MB "
            f"({bare.replies}/{config.updates} replies); leadbot adds {rss - base:.0f} MB",
        ],
    )
    return row, detail


async def _until_polling(
    fake: FakeProc,
    proc: asyncio.subprocess.Process,
    timeout: float,  # noqa: ASYNC109
) -> None:
    """Wait until the bot has started polling (it removes any webhook first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"the bot exited with {proc.returncode} before polling")
        if any(c[0] == "deleteWebhook" for c in await fake.calls()):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the bot did not start polling in time")


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
