"""Admins and managers in Telegram: admin commands, hot-lead alerts, Take / Return, time-outs.

The real dispatcher runs against FakeBotAPI over HTTP, with ADMIN_IDS and MANAGER_CHAT_ID
set; the managers' chat is a supergroup whose button presses are pushed as Telegram would.
"""

from __future__ import annotations

import copy
import csv
import io
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import update

from app.factory import make_dispatcher
from bot.managers import Staff, contact_allowed
from bot.service import utcnow
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from fakes.bot_api import Call, FakeBotAPI
from storage.models import Lead
from tests.conftest import Clock
from tests.e2e.harness import (
    MINI,
    PHONE,
    TOKEN,
    Harness,
    PlainHTTPSession,
    open_service,
    polling,
    until,
)

ADMIN, USER, OTHER, MANAGER = 700, 801, 802, 555
MANAGERS = -1001234567890
STRANGERS = -1009999


@asynccontextmanager
async def staffed(
    tg: FakeBotAPI,
    tmp_path: Path,
    scenario: Path = MINI,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[Harness]:
    """The e2e harness with an admin, a managers' chat and instant hand-off checks."""
    db, service = await open_service(tmp_path / "leads.db", scenario, clock=clock)
    bot = Bot(
        TOKEN,
        session=PlainHTTPSession(api=TelegramAPIServer.from_base(tg.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    channels = Channels(
        service.scenario, throttle=Throttle(rate=1000, per_chat=1000, burst=1000, chat_burst=1000)
    )
    staff = Staff(frozenset({ADMIN}), MANAGERS, alert_pause=0)
    dp = make_dispatcher(
        bot, service, channels, touch_interval=0.1, drain_timeout=5, staff=staff, handoff_check=0
    )
    h = Harness(tg, bot, dp, service, db, channels)
    try:
        async with polling(h):
            yield h
    finally:
        await bot.session.close()
        await db.close()


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    async with staffed(tg, tmp_path) as harness:
        yield harness


async def reach_hot(h: Harness, user: int = USER, **who: Any) -> None:
    """Up to the hot offer (a two-hour wait pending): the lead is classified hot."""
    who.setdefault("first_name", "Ann")
    await h.say(user, "/start ads", expect="What do you need?", **who)
    await h.press(user, "Buy now")
    await h.press(user, "Big")
    await h.say(user, "We want to buy", expect="Leave your phone?")
    await h.share_contact(user, "Machine X for")
    await h.settle()


async def replies_to(h: Harness, user: int, text: str) -> list[tuple[str | None, Any]]:
    """Everything the bot sent ``user`` in answer to ``text``."""
    since = len(h.tg.sent(user))
    h.push(h.tg.message_update(user, text))
    await h.settle()
    return [(c.text, c.reply_markup) for c in h.tg.sent(user)[since:]]


def group_message(user: int, chat: int, text: str) -> dict[str, Any]:
    command = text.split()[0]
    return {
        "message": {
            "message_id": secrets.randbelow(10**6) + 1,
            "from": {"id": user, "is_bot": False, "first_name": "Maria"},
            "chat": {"id": chat, "type": "supergroup", "title": "Sales"},
            "date": 1,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
    }


def press_card(h: Harness, card: Call, label: str, user: int = MANAGER) -> dict[str, Any]:
    """A manager presses ``label`` under the alert card as it looks now."""
    message = h.tg.messages[(MANAGERS, card.result["message_id"])]
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    data = next(b["callback_data"] for b in buttons if b["text"] == label)
    query = {
        "id": str(secrets.randbits(62)),
        "from": {"id": user, "is_bot": False, "first_name": "Maria", "username": "maria_sales"},
        "message": copy.deepcopy(message),
        "chat_instance": "managers",
        "data": data,
    }
    return h.push({"callback_query": query})


async def card_buttons(h: Harness, card: Call) -> list[str]:
    message = h.tg.messages[(MANAGERS, card.result["message_id"])]
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


# --- who may ask ------------------------------------------------------------------------------

ADMIN_COMMANDS = [
    "/stats",
    "/lead 1",
    "/lead @ann",
    "/export",
    "/report",
    "/take 1",
    "/release 1",
    "/reload",
    "/admin",
]


async def test_admin_commands_mean_nothing_to_others(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?", username="ann")
    await h.say(OTHER, "/start", expect="What do you need?")
    await h.settle()
    for user in (USER, OTHER):
        unknown = await replies_to(h, user, "/no_such_command")
        assert unknown  # whatever a prospect's text gets at this point of their chat
        for command in ADMIN_COMMANDS:
            assert await replies_to(h, user, command) == unknown, command
    lead = await h.lead(USER)
    assert lead is not None and lead.status == "active"  # "/take 1" took nothing
    assert not h.tg.calls_of("sendDocument")
    assert not [t for t in h.tg.sent_texts() if "Lead #" in t or "<pre>" in t]


async def test_groups_other_than_the_managers_are_ignored(h: Harness) -> None:
    since = len(h.tg.calls)
    h.push(group_message(OTHER, MANAGERS, "/stats"))  # a manager, but not an admin
    h.push(group_message(ADMIN, STRANGERS, "/stats"))  # an admin, but in someone's group
    await h.settle()
    assert not [c for c in h.tg.calls[since:] if c.method == "sendMessage"]
    h.push(group_message(ADMIN, MANAGERS, "/stats"))
    await h.tg.wait_for_sent(MANAGERS, "new leads")


# --- admin commands ---------------------------------------------------------------------------


async def test_stats_and_report(h: Harness) -> None:
    await reach_hot(h)
    await h.say(OTHER, "/start", expect="What do you need?")
    await h.settle()
    stats = await h.say(ADMIN, "/stats", expect="new leads")
    assert stats is not None and stats.text is not None
    table = stats.text.split("<pre>")[1].split("</pre>")[0]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}
    assert rows["new"] == ["leads", "2", "2", "2"]
    assert rows["qualified"] == ["1", "1", "1"]
    assert rows["contacts"] == ["1", "1", "1"]
    assert "· hot" in table and "· (none)" in table
    await h.say(ADMIN, "/report", expect="<b>Interview</b>: 2 started")
    report = "\n".join(h.tg.sent_texts(ADMIN))
    assert "<pre>" in report and "hot_offer" in report and "leads" in report
    await h.say(ADMIN, "/report lately", expect="is not a date")


async def test_lead_card_is_escaped_and_found_by_username(h: Harness) -> None:
    await reach_hot(h, first_name="Ann <b>&", username="ann_shop")
    card = await h.say(ADMIN, "/lead @ann_shop", expect="Lead #1")
    assert card is not None and card.ok and card.text is not None
    assert "Ann &lt;b&gt;&amp;" in card.text
    assert '<a href="tg://user?id=801">' in card.text
    assert PHONE in card.text and "What do you need?" in card.text
    assert "classified" in card.text and "offer_shown" in card.text
    await h.say(ADMIN, "/lead 1", expect="Lead #1")
    await h.say(ADMIN, "/lead 99", expect="No lead 99.")
    h.push(group_message(ADMIN, MANAGERS, "/lead 1"))  # contacts stay out of the group
    await h.tg.wait_for_sent(MANAGERS, "ask me in a private chat")


async def test_long_lead_card_is_split(h: Harness) -> None:
    await reach_hot(h)
    for n in range(40):
        await h.say(USER, f"message {n} " + "x" * 60)
    await h.settle()
    since = len(h.tg.sent(ADMIN))
    await h.say(ADMIN, "/lead 1", expect="Lead #1")
    await until(lambda: len(h.tg.sent(ADMIN)) >= since + 2)
    assert all(c.ok for c in h.tg.sent(ADMIN)[since:])


async def test_export_sends_the_leads_csv(h: Harness) -> None:
    await reach_hot(h)
    h.push(h.tg.message_update(ADMIN, "/export"))
    sent = await h.tg.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == ADMIN)
    assert sent.ok
    (upload,) = sent.files.values()
    assert upload.filename is not None and upload.filename.startswith("leads-")
    rows = list(csv.reader(io.StringIO(upload.data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["id", "created_at"] and "answer:need" in rows[0]
    assert len(rows) == 2 and rows[1][rows[0].index("phone")] == PHONE
    assert sent.text == "1 lead from Telegram"


async def test_reload_without_a_reloader(h: Harness) -> None:
    await h.say(ADMIN, "/reload", expect="Live reload is off")


# --- alerts and the hand-off ------------------------------------------------------------------


async def test_hot_lead_alert_reaches_the_managers(h: Harness) -> None:
    await reach_hot(h, username="ann_shop")
    card = await h.tg.wait_for_sent(MANAGERS, "Hot lead", timeout=5)
    text = card.text or ""
    assert "«Ready to buy»" in text and '<a href="tg://user?id=801">Ann</a> @ann_shop' in text
    assert "<b>Source:</b> ads" in text and "What do you need?" in text
    assert f"<b>Contact:</b> {PHONE}" in text  # shared, and the scenario asks no consent
    assert "bot leads this conversation" in text
    assert await card_buttons(h, card) == ["Take"]
    assert all(len(d.encode()) <= 64 for d in card.callback_data)


async def test_offer_click_alert_hides_a_contact_without_consent(h: Harness) -> None:
    await reach_hot(h)
    async with h.db.session() as session, session.begin():
        await session.execute(update(Lead).values(consent="declined"))
    await h.press(USER, "I want it")
    clicked = await h.tg.wait_for_sent(MANAGERS, "Clicked an offer", timeout=5)
    assert "«Machine X»" in (clicked.text or "")
    assert PHONE not in (clicked.text or "") and "no consent" in (clicked.text or "")
    handoff = await h.tg.wait_for_sent(MANAGERS, "Asks for a manager", timeout=5)
    assert await card_buttons(h, handoff) == ["Take", "Return to bot"]


async def test_take_silences_the_bot_until_returned(h: Harness) -> None:
    await reach_hot(h)
    card = await h.tg.wait_for_sent(MANAGERS, "Hot lead", timeout=5)
    update_ = press_card(h, card, "Take")
    answer = await h.answered(update_)
    assert "Taken" in answer.params.get("text", "")
    lead = await h.lead(USER)
    assert lead is not None and lead.status == "handed_off"
    assert [t.state for t in await h.touches(USER)] == ["cancelled", "cancelled"]
    taken = (await h.events(USER))[-1]
    assert taken.type == "taken"
    assert taken.payload == {"by": "Maria (@maria_sales)", "manager_id": MANAGER}
    edited = await h.tg.wait_for(lambda c: c.method == "editMessageText" and c.ok)
    assert "Taken by Maria (@maria_sales)" in (edited.text or "")
    assert (edited.text or "").startswith("🔥 <b>Hot lead</b>")
    assert await card_buttons(h, card) == ["Return to bot"]

    assert await replies_to(h, USER, "hello? anyone?") == []  # no automatic reply
    since = len(h.tg.sent(USER))
    await h.press(USER, "Not now")  # a button of the chain: stale, a toast at most
    await h.settle()
    assert len(h.tg.sent(USER)) == since

    press_card(h, card, "Return to bot")
    await h.expect(USER, "Here is a discount.", since)  # the chain goes on after the wait
    lead = await h.lead(USER)
    assert lead is not None and lead.status == "active"
    released = [e for e in await h.events(USER) if e.type == "released"]
    assert released and released[0].payload == {"by": "Maria (@maria_sales)"}
    back = await h.tg.wait_for(
        lambda c: c.method == "editMessageText" and "Back with" in (c.text or "")
    )
    assert "returned by Maria" in (back.text or "")
    assert await card_buttons(h, card) == ["Take"]


async def test_take_and_release_commands(h: Harness) -> None:
    await reach_hot(h)
    await h.say(ADMIN, "/take 1", expect="Lead #1 is yours")
    await h.say(ADMIN, "/take 42", expect="No lead 42.")
    assert await replies_to(h, USER, "hello?") == []
    since = len(h.tg.sent(USER))
    await h.say(ADMIN, "/release 1", expect="Lead #1 is back with the bot")
    await h.expect(USER, "Here is a discount.", since)
    await h.say(ADMIN, "/release 1", expect="Lead #1 is not with managers (status active)")
    await h.say(ADMIN, "/take", expect="Usage: /take")


async def test_a_stopped_lead_cannot_be_taken(h: Harness) -> None:
    await reach_hot(h)
    await h.say(USER, "/stop", expect=h.texts.stop)
    await h.say(ADMIN, "/take 1", expect="Lead #1 is unsubscribed")
    lead = await h.lead(USER)
    assert lead is not None and lead.status == "unsubscribed"


async def test_handoff_timeout_gives_a_forgotten_lead_back(
    tg: FakeBotAPI, tmp_path: Path, clock: Clock
) -> None:
    scenario = tmp_path / "timeout.yaml"
    scenario.write_text(MINI.read_text().replace("winback:", "handoff_timeout: 2d\nwinback:", 1))
    shutil.copytree(MINI.parent / "assets", tmp_path / "assets")
    async with staffed(tg, tmp_path, scenario, clock) as h:
        await reach_hot(h)
        await h.say(ADMIN, "/take 1", expect="Lead #1 is yours")
        await reach_hot(h, OTHER)
        await h.press(OTHER, "I want it")  # the offer leads to a hand-off step
        await h.expect(OTHER, "A manager will call you.")
        since = len(h.tg.sent(USER))
        clock.advance(days=1, hours=23)
        await h.settle(quiet=0.5)
        for user in (USER, OTHER):
            lead = await h.lead(user)
            assert lead is not None and lead.status == "handed_off"
        clock.advance(hours=1, minutes=1)
        await h.expect(USER, "Here is a discount.", since)  # the chain goes on after the wait
        for user, status in ((USER, "active"), (OTHER, "completed")):  # hot_call: end
            await until(partial(_has_status, h, user, status))
            released = [e for e in await h.events(user) if e.type == "released"]
            assert released[0].payload == {"by": "timeout (2d with managers)"}


async def _has_status(h: Harness, user: int, status: str) -> bool:
    lead = await h.lead(user)
    return lead is not None and lead.status == status


@pytest.mark.parametrize(
    ("consent", "require", "allowed"),
    [
        ("given", True, True),
        ("given", False, True),
        (None, False, True),
        (None, True, False),
        ("declined", False, False),
        ("declined", True, False),
    ],
)
def test_contact_allowed(consent: str | None, require: bool, allowed: bool) -> None:
    assert contact_allowed(consent, require) is allowed
