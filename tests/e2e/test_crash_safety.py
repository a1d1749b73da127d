"""kill -9 at the worst moments, then a restart: every lead goes on, nothing is sent twice.

``python -m bot run`` runs as a real process against the fake Bot API and a hanging fake
model; the test kills it with SIGKILL mid-classification and mid-round (one touch in the
middle of its send, another claimed behind it), restarts it, and reads the lead log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot.vocabulary import EventType, TouchState
from fakes.bot_api import FakeBotAPI
from fakes.openai_server import Delay, FakeOpenAI, Status
from storage.db import Database
from storage.models import Event, Lead, ScheduledTouch
from tests.e2e.harness import MINI, PHONE, TOKEN, until

USERS = (701, 702)
OFFER = "Machine X"
DISCOUNT = "Here is a discount."
#: The promise under test: a dead instance's work waits about this long after a restart.
RESUMED_WITHIN = 30.0


class Bot:
    """The bot as a child process (so SIGKILL is a real kill -9)."""

    def __init__(self, tg: FakeBotAPI, db_path: Path, **env: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "BOT_"))}
        self.env.update(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=tg.base_url,
            TELEGRAM_TIMEOUT="20",
            DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
            SCENARIO=str(MINI),
            OPENAI_API_KEY="",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        self.env.update(env)
        self.log = db_path.parent / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def serving(self, tg: FakeBotAPI) -> float:
        """Start and wait until the process polls (imports take seconds on a busy machine);
        returns that moment, from which its promises are timed."""
        polls = len(tg.calls_of("deleteWebhook"))
        self.start()
        await wait(lambda: len(tg.calls_of("deleteWebhook")) > polls, "the bot polls", 60)
        return time.monotonic()

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


async def rows(db: Database, query: Any) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(query)).scalars())


async def wait(check: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:  # noqa: ASYNC109
    return await until(check, lambda: what, timeout)


async def to_classification(tg: FakeBotAPI, user: int) -> None:
    """/start, two buttons, a typed answer, the phone: the lead reaches ``classify``."""

    def newest_with(label: str) -> Any:
        return next((c for c in reversed(tg.sent(user)) if label in c.button_texts), None)

    tg.push_update(tg.message_update(user, "/start", first_name="Ann"))
    for label in ("Buy now", "Big"):
        message = await wait(partial(newest_with, label), f"{user}: {label}")
        data = message.callback_data[message.button_texts.index(label)]
        tg.push_update(tg.callback_update(user, data, message.result["message_id"]))
    await wait(lambda: "Tell us about your office." in tg.sent_texts(user), "q_about")
    tg.push_update(tg.message_update(user, "Twenty people, we want to buy"))
    await wait(lambda: "Leave your phone?" in tg.sent_texts(user), "phone")
    tg.push_update(tg.contact_update(user, PHONE))


async def test_kill_9_mid_classification_and_mid_round(tg: FakeBotAPI, tmp_path: Path) -> None:
    db_path = tmp_path / "crash.db"
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    bots: list[Bot] = []
    try:
        # 1. The model hangs: both leads are mid-classification when the process dies.
        async with FakeOpenAI(default=Delay(60, then=Status(500))) as model:
            first = Bot(tg, db_path, OPENAI_API_KEY="test", OPENAI_BASE_URL=model.base_url,
                        OPENAI_BUDGET="50", OPENAI_TIMEOUT="50")  # fmt: skip
            bots.append(first)
            await first.serving(tg)
            await asyncio.gather(*(to_classification(tg, user) for user in USERS))
            await wait(lambda: len(model.requests) >= len(USERS), "both classifications asked")
            first.kill()
        assert not any(OFFER in t for t in tg.sent_texts())

        # The restart (offline model now) picks the lost classifications up by itself.
        second = Bot(tg, db_path)
        bots.append(second)
        started = await second.serving(tg)

        def offered(user: int) -> bool:
            return any(OFFER in t for t in tg.sent_texts(user))

        for user in USERS:
            await wait(partial(offered, user), f"{user}: the offer", RESUMED_WITHIN)
        assert time.monotonic() - started < RESUMED_WITHIN

        # 2. Mid-round: both leads' next touches are due; the first send is delivered but
        # answered late, and the process dies while it waits (the second touch is claimed).
        waits = await rows(db, select(ScheduledTouch).where(ScheduledTouch.state == "pending"))
        assert {t.lead_id for t in waits} and all(t.step for t in waits)
        tg.answer_late("sendMessage", 30, count=None)
        async with db.session() as session, session.begin():
            await session.execute(
                update(ScheduledTouch)
                .where(ScheduledTouch.state == TouchState.PENDING)
                .values(due_at=datetime.now(UTC))
            )
        await wait(lambda: any(DISCOUNT in (c.text or "") for c in tg.sent()), "a touch sent")
        second.kill()
        tg.answer_late("sendMessage", 0)

        third = Bot(tg, db_path)
        bots.append(third)
        started = await third.serving(tg)
        await wait(lambda: all(DISCOUNT in tg.sent_texts(u) for u in USERS), "both touches",
                   RESUMED_WITHIN)  # fmt: skip
        assert time.monotonic() - started < RESUMED_WITHIN
        await asyncio.sleep(2)  # anything sent twice would show by now
        third.kill()

        # Every lead went on; no message reached anyone twice; the send in doubt is on record.
        for user in USERS:
            texts = tg.sent_texts(user)
            assert texts.count(DISCOUNT) == 1, texts
            assert sum(OFFER in t for t in texts) == 1, texts
        leads = await rows(db, select(Lead))
        assert {lead.segment for lead in leads} == {"hot"}
        touches = await rows(db, select(ScheduledTouch).where(ScheduledTouch.kind == "touch"))
        states = sorted(t.state for t in touches if t.step and t.done_at is not None)
        assert TouchState.UNKNOWN in states, states
        doubts = await rows(db, select(Event.type).where(Event.type == EventType.DELIVERY_UNKNOWN))
        assert len(doubts) == states.count(TouchState.UNKNOWN)
        stuck = await rows(
            db,
            select(ScheduledTouch).where(
                ScheduledTouch.state.in_([TouchState.CLAIMED, TouchState.SENDING])
            ),
        )
        assert stuck == []
    finally:
        for bot in bots:
            bot.stop()
        await db.close()
