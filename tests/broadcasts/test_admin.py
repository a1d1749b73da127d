"""``/broadcast`` in Telegram: refused to everyone but admins; preview, Send, Cancel, control.

The real bot (long polling, routers, FSM, touch loop) against FakeBotAPI.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select

from app.factory import make_dispatcher
from bot.managers import Staff
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from fakes.bot_api import Call, FakeBotAPI
from storage.models import Broadcast
from tests.broadcasts.conftest import add_leads
from tests.conftest import Clock
from tests.e2e.harness import TOKEN, Harness, PlainHTTPSession, open_service, polling, until

ADMIN, PROSPECT, OTHER = 5001, 5002, 5003
LEADS = range(901, 906)


@asynccontextmanager
async def admin_bot(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    clock = Clock()
    db, service = await open_service(tmp_path / "leads.db", clock=clock)
    bot = Bot(
        TOKEN,
        session=PlainHTTPSession(api=TelegramAPIServer.from_base(tg.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    fast = Throttle(rate=1000, per_chat=1000, burst=1000, chat_burst=1000)
    channels = Channels(service.scenario, throttle=fast)
    dp = make_dispatcher(
        bot, service, channels, touch_interval=0.1, drain_timeout=5,
        staff=Staff(admin_ids=frozenset({ADMIN})),
    )  # fmt: skip
    # At the offer itself, so the scenario's win-back rule (hot-2, hot-4) leaves them alone.
    await add_leads(db, len(LEADS), clock(), first_user=LEADS[0], step="hot_offer")
    h = Harness(tg, bot, dp, service, db, channels)
    try:
        async with polling(h):
            yield h
    finally:
        await bot.session.close()
        await db.close()


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    async with admin_bot(tg, tmp_path) as harness:
        yield harness


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


async def said(
    h: Harness, user: int, text: str, since: int | None = None, language_code: str | None = None
) -> list[Call]:
    """Send ``text`` as ``user``; what the bot answered once it is quiet again."""
    start = len(h.tg.sent(user)) if since is None else since
    h.push(h.tg.message_update(user, text, first_name="Boss", language_code=language_code))
    await h.settle()
    return h.tg.sent(user)[start:]


async def broadcasts(h: Harness) -> list[Broadcast]:
    """Mailings made by people (the scenario's win-back rule has a row of its own)."""
    async with h.db.session() as session:
        stmt = select(Broadcast).where(Broadcast.kind != "winback")
        return list((await session.execute(stmt)).scalars())


def started_id(call: Call) -> int:
    found = re.search(r"Broadcast <b>#(\d+)</b> started", call.text or "")
    assert found is not None, call.text
    return int(found[1])


def press(h: Harness, user: int, call: Call, label: str) -> dict[str, Any]:
    data = call.callback_data[call.button_texts.index(label)]
    return h.push(h.tg.callback_update(user, data, call.result["message_id"]))


async def test_broadcast_is_not_a_command_for_prospects(h: Harness) -> None:
    refused = await said(h, PROSPECT, "/broadcast segment=hot")
    unknown = await said(h, OTHER, "/nonsense segment=hot")
    assert [c.text for c in refused] == [c.text for c in unknown]  # whatever any text gets
    assert await broadcasts(h) == []
    assert not any("Preview" in (c.text or "") for c in refused)


async def test_admin_previews_and_sends(h: Harness) -> None:
    usage = await said(h, ADMIN, "/broadcast")
    assert "/broadcast segment=hot" in (usage[0].text or "")

    asked = await said(h, ADMIN, "/broadcast segment=hot stopped-at=hot_offer name=Spring")
    assert "<b>5</b> lead(s) match. Now send the message text" in (asked[-1].text or "")
    shown = await said(h, ADMIN, "Big news, {first_name}!")
    texts = [c.text or "" for c in shown]
    assert texts[0].startswith("<b>Preview</b> — as Lead905 will see it")
    assert texts[1] == "Big news, Lead905!"
    summary = shown[-1]
    assert "<b>5</b> lead(s) match" in (summary.text or "")
    assert "Lead905 (#5), Lead904 (#4)" in (summary.text or "")
    assert summary.button_texts == ["Send", "Cancel"]
    assert await broadcasts(h) == []  # nothing until Send

    before = len(h.tg.sent(ADMIN))
    await h.answered(press(h, ADMIN, summary, "Send"))
    started = await h.expect(ADMIN, "started: 5 message(s) queued", before)
    n = started_id(started)  # the scenario's win-back rule may have taken #1
    assert f"/broadcast status {n}" in (started.text or "")
    for user in LEADS:
        await h.tg.wait_for_sent(user, f"Big news, Lead{user}!", timeout=10)
    [row] = await broadcasts(h)
    assert (row.name, row.created_by) == ("Spring", f"tg:{ADMIN}")
    assert row.message == {"message": "Big news, {first_name}!"}

    again = await h.answered(press(h, ADMIN, summary, "Send"))  # a second press does nothing
    assert again.params.get("text") == "This preview is no longer current."
    assert len(await broadcasts(h)) == 1

    await h.settle()
    status = await said(h, ADMIN, f"/broadcast status {n}")
    assert (status[0].text or "").startswith(f"#{n} «Spring» finished: 5 sent · 0 failed")
    paused = await said(h, ADMIN, f"/broadcast pause {n}")
    assert f"broadcast {n} has finished: nothing to pause" in (paused[0].text or "")
    listed = await said(h, ADMIN, "/broadcast list")
    assert f"#{n} «Spring» finished" in (listed[0].text or "")


async def test_admin_cancels_a_chain_preview_and_controls_a_broadcast(h: Harness) -> None:
    shown = await said(h, ADMIN, '/broadcast chain=comeback name="Come back" segment=hot')
    assert "Still thinking, Lead905? Here is 10% off." in [c.text for c in shown]
    preview_button = next(c for c in shown if "Show me" in c.button_texts)
    noop = await h.answered(press(h, ADMIN, preview_button, "Show me"))
    assert "This is a preview" in (noop.params.get("text") or "")
    before = len(h.tg.sent(ADMIN))
    await h.answered(press(h, ADMIN, shown[-1], "Cancel"))
    await h.expect(ADMIN, "Cancelled: nothing was sent.", before)
    assert await broadcasts(h) == []

    for text, answer in [
        ("/broadcast segment=vip", "⚠️ segment: no segment 'vip' (have: hot, info, nope)"),
        ("/broadcast chain=nope2", "⚠️ no chain 'nope2'"),
        ("/broadcast segment=info", "No leads match <i>segment=info channel=telegram</i>"),
        ("/broadcast colour=red", "⚠️ unknown filter 'colour'"),
        ("/broadcast chain=comeback\nAnd a text", "⚠️ a broadcast is either a message or a chain"),
        ("/broadcast button=Go:nowhere\nHi", "⚠️ button 'Go' goes to unknown step 'nowhere'"),
        ("/broadcast pause", "Usage: <code>/broadcast pause ID</code>"),
        ("/broadcast status 7", "⚠️ no broadcast 7"),
    ]:
        replies = await said(h, ADMIN, text)
        assert answer in (replies[-1].text or ""), (text, replies[-1].text)

    # Scheduled for later: it waits, and can be paused, resumed and cancelled from Telegram.
    shown = await said(
        h, ADMIN, '/broadcast segment=hot at="2099-01-01 10:00"\nLater, {first_name}'
    )
    assert "Starts: 2099-01-01 10:00" in (shown[-1].text or "")
    before = len(h.tg.sent(ADMIN))
    await h.answered(press(h, ADMIN, shown[-1], "Send"))
    n = started_id(await h.expect(ADMIN, "started: 5 message(s) queued", before))
    name = "«Later, {first_name} 2026-03-02»"
    for text, answer in [
        (f"/broadcast status {n}", f"#{n} {name} scheduled (starts 2099-01-01 10:00)"),
        (f"/broadcast pause {n}", f"Paused: #{n}"),
        (f"/broadcast resume {n}", f"Resumed: #{n}"),
        (f"/broadcast cancel {n}", f"Cancelled: #{n} {name} cancelled"),
        (f"/broadcast resume {n}", f"⚠️ broadcast {n} is cancelled: cannot resume it"),
    ]:
        replies = await said(h, ADMIN, text)
        assert answer in (replies[-1].text or ""), (text, replies[-1].text)
    assert all("Later" not in (c.text or "") for user in LEADS for c in h.tg.sent(user))


async def test_a_russian_admin_gets_the_mailing_in_russian(h: Harness) -> None:
    """The admin's Telegram language picks the words; the mailing itself is what they wrote."""
    usage = await said(h, ADMIN, "/broadcast", language_code="ru")  # sticks to the user
    assert "<b>/broadcast</b> — рассылка по аудитории лидов" in (usage[0].text or "")
    dropped = await said(h, ADMIN, "/broadcast cancel")
    assert dropped[-1].text == "Черновик удалён; ничего не отправлено."
    asked = await said(h, ADMIN, "/broadcast segment=hot stopped-at=hot_offer")
    assert "Подходит лидов: <b>5</b>. Теперь пришлите текст" in (asked[-1].text or "")

    shown = await said(h, ADMIN, "Привет, {first_name}!")
    texts = [c.text or "" for c in shown]
    assert texts[0] == "<b>Предпросмотр</b> — так это увидит Lead905:"
    assert texts[1] == "Привет, Lead905!"
    summary = shown[-1]
    assert (summary.text or "").startswith("Подходит лидов: <b>5</b> (<i>segment=hot")
    assert "Lead905 (#5), Lead904 (#4)" in (summary.text or "")
    assert (summary.text or "").endswith("\nОтправить?")
    assert summary.button_texts == ["Отправить", "Отмена"]

    before = len(h.tg.sent(ADMIN))
    await h.answered(press(h, ADMIN, summary, "Отправить"))
    started = await h.expect(ADMIN, "запущена: сообщений в очереди: 5", before)
    found = re.search(r"Рассылка <b>#(\d+)</b> запущена", started.text or "")
    assert found is not None, started.text
    assert f"<code>/broadcast status {found[1]}</code>" in (started.text or "")
    for user in LEADS:
        await h.tg.wait_for_sent(user, f"Привет, Lead{user}!", timeout=10)
    again = await h.answered(press(h, ADMIN, summary, "Отправить"))
    assert again.params.get("text") == "Этот предпросмотр уже неактуален."
    assert len(await broadcasts(h)) == 1
    await h.settle()
    usage = await said(h, ADMIN, "/broadcast pause")
    assert usage[-1].text == "Так: <code>/broadcast pause ID</code>"


async def test_a_paid_broadcast_shows_its_cost_and_stops_at_its_cap(h: Harness) -> None:
    h.tg.stars.balance = Decimal(10)
    asked = await said(
        h, ADMIN, "/broadcast segment=hot stopped-at=hot_offer paid=yes stars-cap=0.3",
        language_code="ru",
    )  # fmt: skip
    assert "Подходит лидов: <b>5</b>" in (asked[-1].text or "")
    shown = await said(h, ADMIN, "Распродажа, {first_name}!")
    summary = shown[-1].text or ""
    assert "<b>Стоимость</b>" in summary
    assert "5 лид(ов) × 1 сообщ. = 5 сообщений × 0,1 ⭐ = 0,5 Stars" in summary
    assert "Лимит 0,3 Stars: хватит на 3 из 5 лидов (0,3 Stars)" in summary
    assert "Telegram берёт плату за каждое сообщение с этим флагом" in summary
    assert summary.endswith("\nОтправить?")

    before = len(h.tg.sent(ADMIN))
    await h.answered(press(h, ADMIN, shown[-1], "Отправить"))
    n = int(re.findall(r"#(\d+)", (await h.expect(ADMIN, "запущена", before)).text or "")[0])
    await until(lambda: len(h.tg.stars.paid_calls) == 3)
    await h.settle()
    [row] = await broadcasts(h)
    assert (row.paid, row.paid_cap, row.state) == (True, 3, "stopped")
    status = await said(h, ADMIN, f"/broadcast status {n}")
    assert "stopped (its Stars cap is spent): 3 sent" in (status[0].text or "")
    assert "0.3 of 0.3 Stars" in (status[0].text or "")

    low = await said(h, ADMIN, f"/broadcast resume {n} stars-cap=0.2")
    assert "the new cap cannot be lower" in (low[0].text or "")
    await said(h, ADMIN, f"/broadcast resume {n} stars-cap=1")
    await until(lambda: len(h.tg.stars.paid_calls) == 5)
    assert {c.chat_id for c in h.tg.stars.paid_calls} == set(LEADS)
    assert h.tg.stars.spent == Decimal("0.5")
