"""What a send meets on the way (issue 14): a proxy's HTML error page, an answer that comes
too late, a flood limit of one chat, the same update twice. All over real HTTP to the fake."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from bot.vocabulary import EventType, TouchState
from fakes.bot_api import FakeBotAPI
from storage.models import Answer, Event, Lead
from tests.e2e.harness import Harness, until

ANN, BOB = 811, 812


async def at_q_about(h: Harness, user: int) -> None:
    """Up to the typed question whose one-hour time-out is a pending touch."""
    await h.say(user, "/start", expect="What do you need?", first_name="Ann")
    await h.press(user, "Buy now")
    await h.press(user, "Big")
    await h.expect(user, "Tell us about your office.")


async def doubts(h: Harness, user: int) -> list[Event]:
    return [e for e in await h.events(user) if e.type == EventType.DELIVERY_UNKNOWN]


async def test_an_html_502_from_a_proxy_costs_one_retry_not_the_round(h: Harness) -> None:
    for user in (ANN, BOB):
        await at_q_about(h, user)
    h.tg.html_error_next("sendMessage", 502)  # the round's first send meets nginx's page
    for user in (ANN, BOB):
        await h.skip_wait(user)
    for user in (ANN, BOB):
        await h.expect(user, "Machine X")  # both touches went out, the round went on
        assert h.tg.sent_texts(user).count("Thinking…") == 1
        await no_touch_in_flight(h, user)


async def no_touch_in_flight(h: Harness, user: int, seconds: float = 10) -> None:
    """The touch loop records a touch as done just after its message went out: wait for it."""
    deadline = time.monotonic() + seconds
    while True:
        states = [t.state for t in await h.touches(user)]
        if TouchState.CLAIMED not in states and TouchState.SENDING not in states:
            return
        assert time.monotonic() < deadline, f"touches still in flight: {states}"
        await asyncio.sleep(0.05)


async def test_a_gateway_time_out_page_leaves_the_touch_in_doubt(h: Harness) -> None:
    await at_q_about(h, ANN)
    h.tg.html_error_next("sendMessage", 504)
    await h.skip_wait(ANN)
    await until(lambda: doubts(h, ANN))
    await h.settle()
    touches = await h.touches(ANN)
    assert TouchState.UNKNOWN in [t.state for t in touches]
    assert "Thinking…" not in h.tg.sent_texts(ANN)  # not retried blindly


async def test_a_send_answered_too_late_is_in_doubt_and_never_sent_twice(h: Harness) -> None:
    h.bot.session.timeout = 1
    h.tg.answer_late("sendMessage", 2.5)  # Telegram delivers, the answer comes after 1 s
    await h.say(ANN, "/start", expect="What do you need?", first_name="Ann")
    await asyncio.sleep(3)  # time enough for a resend, if there were one
    await h.settle()
    assert h.tg.sent_texts(ANN).count("Hello, Ann!") == 1
    [event] = await doubts(h, ANN)
    assert event.step == "hello"


async def test_one_chat_flooding_does_not_slow_the_others(tg: FakeBotAPI, h: Harness) -> None:
    await h.say(ANN, "/start", expect="What do you need?", first_name="Ann")
    tg.fail_next("sendMessage", 429, retry_after=3)  # Ann's chat hit its own limit
    tg.push_update(tg.message_update(ANN, "/start"))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await h.say(BOB, "/start", expect="What do you need?", first_name="Bob")
    assert time.monotonic() - started < 2.5  # Bob did not wait out Ann's pause
    assert h.channels.throttle.global_penalties == 0


async def test_an_update_delivered_twice_is_handled_once(h: Harness) -> None:
    await at_q_about(h, ANN)
    update = h.push(h.tg.message_update(ANN, "Twenty people in the office"))
    h.push(update)  # a webhook retry, a second instance: the same update_id again
    await h.expect(ANN, "Leave your phone?")
    await h.settle()
    async with h.db.session() as session:
        lead = (await session.execute(select(Lead).where(Lead.user_id == ANN))).scalar_one()
        answers = list(
            (await session.execute(select(Answer).where(Answer.lead_id == lead.id))).scalars()
        )
    assert [a.key for a in answers].count("about") == 1
    assert h.dp.repeats == 1
