"""Telegram Business over HTTP: the funnel in the owner's own chats with customers.

The fake Bot API plays Telegram: the owner connects the bot (``business_connection``), the
customer and the owner write in their chat (``business_message``, the owner's too), and
every message the bot sends there must name the connection (``business_connection_id``),
which the fake refuses once the owner has disabled it. The fake also shows the bot its own
messages again as the account's outgoing ones, which must change nothing.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest
from aiogram.methods import SendMessage

from bot.service import RecipientGone
from bot.telegram.channel import BUSINESS
from fakes.bot_api import Call, FakeBotAPI
from tests.conftest import Clock
from tests.e2e.harness import MINI, Harness, until
from tests.e2e.test_admin import MANAGERS, staffed

OWNER, ANNA, BORIS = 4242, 911, 912
SOURCE = "business:coffee_shop"


def connect(h: Harness) -> str:
    """The owner connects the bot to their business account; returns the connection id."""
    h.tg.business_mode = True
    update = h.push(h.tg.connect_business(OWNER, username="coffee_shop"))
    return str(update["business_connection"]["id"])


async def known(h: Harness, connection: str) -> None:
    await until(partial(h.service.business_connection, connection), h.tg.describe_calls)


def write(h: Harness, connection: str, user: int, text: str, **kw: object) -> int:
    """A message in the business chat with ``user``; returns how many sends came before."""
    since = len(h.tg.sent(user))
    h.push(h.tg.business_message_update(connection, user, text, **kw))  # type: ignore[arg-type]
    return since


async def press(h: Harness, connection: str, user: int, label: str) -> Call:
    """The customer presses ``label`` under the bot's newest message that has it."""
    message = await until(
        lambda: next((c for c in reversed(h.tg.sent(user)) if label in c.button_texts), None),
        h.tg.describe_calls,
    )
    data = message.buttons[message.button_texts.index(label)]["callback_data"]
    mid = message.result["message_id"]
    return await h.answered(h.push(h.tg.business_callback_update(connection, user, data, mid)))


def on_behalf(h: Harness, user: int, connection: str) -> list[Call]:
    return [c for c in h.tg.sent(user) if c.params.get("business_connection_id") == connection]


async def status(h: Harness, user: int) -> str | None:
    lead = await h.lead(user, BUSINESS)
    return lead.status if lead is not None else None


async def test_a_customer_walks_the_interview_until_the_owner_writes(
    tg: FakeBotAPI, tmp_path: Path
) -> None:
    async with staffed(tg, tmp_path) as h:
        connection = connect(h)
        await known(h, connection)
        # The account's own greeting (sent by Telegram for the owner) is nobody writing.
        write(h, connection, ANNA, "Hi! We answer within an hour.", from_owner=True,
              is_from_offline=True)  # fmt: skip
        write(h, connection, ANNA, "Do you sell coffee machines?", first_name="Anna")
        await h.expect(ANNA, "Hello, Anna!")
        await press(h, connection, ANNA, "Buy now")
        await press(h, connection, ANNA, "Big")
        await h.expect(ANNA, "Tell us about your office.")
        write(h, connection, ANNA, "Ten people on two floors")
        await h.expect(ANNA, "Leave your phone?")
        await h.settle()

        sent = tg.sent(ANNA)
        assert len(sent) == 5 and on_behalf(h, ANNA, connection) == sent, tg.describe_calls()
        assert all(c["sender_business_bot"]["id"] == tg.bot_id for c in (s.result for s in sent))
        assert all(c.ok for c in tg.calls if c.method != "getUpdates"), tg.describe_calls()
        lead = await h.lead(ANNA, BUSINESS)
        assert lead is not None and lead.status == "active" and lead.source == SOURCE
        assert lead.first_name == "Anna" and lead.step == "phone"
        first = (await h.events(ANNA, BUSINESS))[:2]
        assert [(e.type, e.payload.get("kind")) for e in first] == [
            ("message_received", "entry"),
            ("started", None),
        ]

        # The owner writes in person: the bot steps back in this chat, the managers hear.
        since = write(h, connection, ANNA, "Anna, I will call you in five minutes", from_owner=True)
        alert = await tg.wait_for_sent(MANAGERS, "The owner wrote in their business chat")
        text = alert.text or ""
        assert f"<b>Source:</b> {SOURCE}" in text and "owner @coffee_shop" in text
        await until(lambda: status(h, ANNA))
        assert await status(h, ANNA) == "handed_off"
        events = await h.events(ANNA, BUSINESS)
        owner = [(e.type, e.payload) for e in events if e.type in {"manager_message", "handed_off"}]
        assert owner == [
            ("manager_message", {"text": "Anna, I will call you in five minutes",
                                 "by": "owner @coffee_shop"}),
            ("handed_off", {"reason": "owner", "by": "owner @coffee_shop"}),
        ]  # fmt: skip
        # The customer answers the owner: the bot says nothing (the managers see it).
        write(h, connection, ANNA, "Sure, waiting")
        await tg.wait_for_sent(MANAGERS, "Sure, waiting")
        await h.settle()
        assert len(tg.sent(ANNA)) == since

        # Her lead in the bot's own chat is another lead: /start there starts afresh.
        await h.say(ANNA, "/start", expect="Hello, Anna!", first_name="Anna")
        bot_chat = await h.lead(ANNA)
        assert bot_chat is not None and bot_chat.id != lead.id and bot_chat.source is None
        assert "business_connection_id" not in tg.sent(ANNA)[-1].params


async def test_touches_go_through_the_connection_until_it_is_revoked(
    tg: FakeBotAPI, tmp_path: Path
) -> None:
    async with staffed(tg, tmp_path) as h:
        connection = connect(h)
        await known(h, connection)
        write(h, connection, BORIS, "Hello", first_name="Boris")
        await press(h, connection, BORIS, "Buy now")
        await press(h, connection, BORIS, "Big")
        await h.expect(BORIS, "Tell us about your office.")
        await h.skip_wait(BORIS, BUSINESS)  # the question's hour runs out: the touch loop
        offer = await h.expect(BORIS, "Machine X for Boris")
        assert offer.params.get("business_connection_id") == connection
        await h.settle()
        touches = [t.state for t in await h.touches(BORIS, BUSINESS)]
        assert touches == ["sent", "pending"]  # the question's time-out, the offer's 2h wait

        # The owner turns the bot off: its leads hear of it, and nothing more is sent there.
        h.push(tg.connect_business(OWNER, connection_id=connection, enabled=False))

        async def revoked() -> bool:
            return "business_disconnected" in await h.event_types(BORIS, BUSINESS)

        await until(revoked)
        since = len(tg.calls)
        await h.skip_wait(BORIS, BUSINESS)  # the offer's wait is over: the chain would go on
        await until(lambda: _is(h, BORIS, "blocked"))
        await h.settle()
        tried = [c for c in tg.calls[since:] if c.params.get("business_connection_id")]
        assert tried == [], tg.describe_calls()  # refused here, before Telegram
        events = await h.events(BORIS, BUSINESS)
        [gone] = [e for e in events if e.type == "business_disconnected"]
        assert gone.payload == {"connection": connection, "standing": "disabled"}
        [blocked] = [e for e in events if e.type == "blocked"]
        assert blocked.payload["reason"] == f"business connection {connection} is disabled"
        # The wait's touch ran (nothing reached Telegram); the next one was cancelled.
        assert [t.state for t in await h.touches(BORIS, BUSINESS)] == ["sent", "sent", "cancelled"]

        # Telegram refuses a disabled connection too: the channel takes it as unreachable.
        chat = h.channels.chat(h.bot, BORIS, connection)
        with pytest.raises(RecipientGone, match="BUSINESS_CONNECTION_INVALID"):
            await chat.call(SendMessage(chat_id=BORIS, text="Still there?"))


async def _is(h: Harness, user: int, wanted: str) -> bool:
    return await status(h, user) == wanted


async def test_the_bot_comes_back_after_the_handoff_timeout_from_the_owners_last_word(
    tg: FakeBotAPI, tmp_path: Path, clock: Clock
) -> None:
    scenario = tmp_path / "timeout.yaml"
    scenario.write_text(MINI.read_text().replace("winback:", "handoff_timeout: 2d\nwinback:", 1))
    shutil.copytree(MINI.parent / "assets", tmp_path / "assets")
    async with staffed(tg, tmp_path, scenario, clock) as h:
        connection = connect(h)
        await known(h, connection)
        write(h, connection, ANNA, "Hi", first_name="Anna")
        await h.expect(ANNA, "What do you need?")
        write(h, connection, ANNA, "Hello Anna, what are you looking for?", from_owner=True)
        await until(lambda: _is(h, ANNA, "handed_off"))
        clock.advance(days=1, hours=23)
        write(h, connection, ANNA, "Still there?", from_owner=True)  # the clock starts again
        await until(lambda: _manager_messages(h, ANNA, 2))
        clock.advance(days=1)
        await h.settle(quiet=0.5)
        assert await status(h, ANNA) == "handed_off"
        since = len(tg.sent(ANNA))
        clock.advance(days=1, minutes=1)
        again = await h.expect(ANNA, "What do you need?", since)  # the pending question
        assert again.params.get("business_connection_id") == connection
        released = [e for e in await h.events(ANNA, BUSINESS) if e.type == "released"]
        assert released[0].payload == {"by": "timeout (2d with managers)"}


async def _manager_messages(h: Harness, user: int, count: int) -> bool:
    types = await h.event_types(user, BUSINESS)
    return types.count("manager_message") >= count
