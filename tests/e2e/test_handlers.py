"""The handlers as a prospect meets them: commands, presses, media, blocking, failures."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import select

from bot.engine.types import Classified
from bot.scenario.funnel import Funnel
from fakes.bot_api import FakeBotAPI
from handlers.prospect.commands import source_from
from storage.models import Event, Lead
from tests.e2e.harness import GatedQualifier, Harness, harness_for, polling, until

USER, OTHER = 801, 802


async def reach_hot_offer(h: Harness, user: int = USER) -> None:
    """Up to the hot offer, after which a two-hour wait is pending."""
    await h.say(user, "/start ads", expect="What do you need?", first_name="Ann")
    await h.press(user, "Buy now")
    await h.press(user, "Big")
    await h.say(user, "We want to buy", expect="Leave your phone?")
    await h.share_contact(user, "Machine X for Ann")
    await h.settle()
    assert [t.state for t in await h.touches(user)] == ["cancelled", "pending"]


@pytest.mark.parametrize(
    ("payload", "source"),
    [
        ("vk_ads_nov", "vk_ads_nov"),
        ("A-z_09", "A-z_09"),
        ("x" * 64, "x" * 64),
        ("x" * 65, None),
        ("bad payload", None),
        ("кириллица", None),
        ("a.b", None),
        ("", None),
        (None, None),
    ],
)
def test_deep_link_payload(payload: str | None, source: str | None) -> None:
    assert source_from(payload) == source


async def test_bad_deep_link_is_no_source_and_no_error(h: Harness) -> None:
    await h.say(USER, "/start <script>", expect="What do you need?")
    lead = await h.lead(USER)
    assert lead is not None and lead.source is None
    assert (await h.events(USER))[0].payload == {"source": None}


async def test_stop_then_start_again(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?")
    await h.press(USER, "Buy now")
    await h.press(USER, "Big")
    await h.expect(USER, "Tell us about your office.")
    await h.settle()
    assert [t.state for t in await h.touches(USER)] == ["pending"]  # the question's timeout

    goodbye = await h.say(USER, "/stop", expect=h.texts.stop)
    assert goodbye is not None and goodbye.reply_markup == {"remove_keyboard": True}
    lead = await h.lead(USER)
    assert lead is not None and lead.status == "unsubscribed"
    assert [t.state for t in await h.touches(USER)] == ["cancelled"]
    await h.say(USER, "hello?", expect=h.texts.stop)  # still polite, still unsubscribed

    since = len(h.tg.sent(USER))
    await h.say(USER, "/start", expect=h.texts.restart)
    await h.expect(USER, "Tell us about your office.", since)  # continues where it stopped
    lead = await h.lead(USER)
    assert lead is not None and lead.status == "active"
    types = await h.event_types(USER)
    assert types[-6:] == [
        "unsubscribed",
        "message_received",
        "restarted",
        "resubscribed",
        "question_asked",
        "touch_scheduled",
    ]


async def test_help_sends_the_scenario_help(h: Harness) -> None:
    await h.say(USER, "/help", expect=h.texts.help)
    assert await h.lead(USER) is None  # help is not part of the funnel


async def test_double_tapped_button_runs_the_step_once(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?")
    question = h.tg.sent(USER)[-1]
    first = h.tg.callback_update(USER, question.callback_data[0], question.result["message_id"])
    second = h.tg.callback_update(USER, question.callback_data[0], question.result["message_id"])
    h.tg.push_updates([first, second])
    one, two = await asyncio.gather(h.answered(first), h.answered(second))
    assert one.ok and two.ok
    assert "text" not in one.params and two.params["text"] == h.texts.not_current
    await h.settle()
    types = await h.event_types(USER)
    assert types.count("answer_given") == 1 and types[-1] == "stale_button"
    assert [c.text for c in h.tg.sent(USER)].count("Your budget?") == 1


async def test_old_button_after_moving_on_is_answered_with_a_notice(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?")
    await h.press(USER, "Just looking")
    await h.press(USER, "Tiny")
    answer = await h.press(USER, "Buy now")  # the first question's button, long answered
    assert answer.params["text"] == h.texts.not_current


async def test_media_gets_a_gentle_reply_and_a_caption_counts_as_text(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?")
    await h.press(USER, "Buy now")
    await h.press(USER, "Big")
    await h.expect(USER, "Tell us about your office.")
    since = len(h.tg.sent(USER))
    sticker = h.tg.message_update(USER, None)
    sticker["message"]["sticker"] = {
        "file_id": "CAACAgIAAx",
        "file_unique_id": "AgAD",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    h.push(sticker)
    await h.expect(USER, h.texts.unknown, since)
    photo = h.tg.message_update(USER, None)
    photo["message"]["photo"] = [
        {"file_id": "AgACAgIAAx", "file_unique_id": "AQAD", "width": 90, "height": 90}
    ]
    photo["message"]["caption"] = "Our office, 12 people"
    h.push(photo)
    await h.expect(USER, "Leave your phone?", since)
    events = await h.events(USER)
    answer = next(e for e in events if e.type == "answer_given" and e.step == "q_about")
    assert answer.payload["value"] == "Our office, 12 people"


async def test_someone_elses_contact_card_is_not_taken_as_theirs(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?")
    since = len(h.tg.sent(USER))
    h.push(h.tg.contact_update(USER, "+70000000000", own=False))
    await h.expect(USER, h.texts.unknown, since)
    lead = await h.lead(USER)
    assert lead is not None and lead.phone is None


async def test_group_chats_are_ignored(h: Harness) -> None:
    update = h.tg.message_update(USER, "/start")
    update["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Office"}
    h.push(update)
    await h.settle()
    assert h.tg.sent() == [] and await h.lead(USER) is None


async def test_refused_by_telegram_on_a_touch_marks_the_lead_blocked(h: Harness) -> None:
    await reach_hot_offer(h)
    h.tg.block_user(USER)
    await h.skip_wait(USER)  # the touch loop now sends "Here is a discount." and gets 403
    await until(lambda: _status(h, USER, "blocked"), h.tg.describe_calls)
    await h.settle()
    events = await h.events(USER)
    assert events[-1].type == "blocked"
    assert "blocked by the user" in events[-1].payload["reason"]
    assert [t.state for t in await h.touches(USER)] == ["cancelled", "sent", "cancelled"]
    assert "error" not in [e.type for e in events]


async def test_blocking_the_bot_stops_touches_before_any_send_fails(h: Harness) -> None:
    await reach_hot_offer(h)
    sent = len(h.tg.sent(USER))
    h.push(h.tg.my_chat_member_update(USER, "kicked"))
    await until(lambda: _status(h, USER, "blocked"), h.tg.describe_calls)
    assert [t.state for t in await h.touches(USER)] == ["cancelled", "cancelled"]
    assert (await h.event_types(USER))[-1] == "blocked"

    h.push(h.tg.my_chat_member_update(USER, "member"))  # unblocked: wait for their /start
    await h.settle()
    assert len(h.tg.sent(USER)) == sent
    await h.say(USER, "/start", expect=h.texts.restart)
    await until(lambda: _status(h, USER, "active"), h.tg.describe_calls)
    assert "resubscribed" in await h.event_types(USER)


async def _status(h: Harness, user: int, status: str) -> bool:
    lead = await h.lead(user)
    return lead is not None and lead.status == status


class FailingQualifier:
    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        raise RuntimeError("the model is down")


async def test_a_failing_update_is_logged_and_the_prospect_gets_an_apology(
    tg: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness_for(tg, tmp_path, qualifier=FailingQualifier()) as h, polling(h):
        await h.say(USER, "/start", expect="What do you need?")
        await h.press(USER, "Buy now")
        await h.press(USER, "Big")
        await h.say(USER, "We want to buy", expect="Leave your phone?")
        update = h.push(h.tg.contact_update(USER, "+79991234567"))
        await h.expect(USER, h.texts.apology)
    failures = [r for r in caplog.records if r.levelno == logging.ERROR and "failed" in r.message]
    assert any(f"update {update['update_id']} failed" in r.message for r in failures)


async def test_one_persons_updates_keep_their_order(h: Harness) -> None:
    """A text needs more filter hops than a press; it must not be overtaken by one."""
    await h.say(USER, "/start", expect="What do you need?")
    question = h.tg.sent(USER)[-1]
    press = h.tg.callback_update(USER, question.callback_data[0], question.result["message_id"])
    h.tg.push_updates([h.tg.message_update(USER, "hello there"), press])
    await h.answered(press)
    await h.settle()
    types = [(e.type, e.step) for e in await h.events(USER)]
    assert types[3:5] == [("message_received", "q_need"), ("answer_given", "q_need")]


async def test_different_people_are_served_concurrently(tg: FakeBotAPI, tmp_path: Path) -> None:
    slow = GatedQualifier()
    async with harness_for(tg, tmp_path, qualifier=slow) as h, polling(h):
        h.channels.typing_every = 0.1
        await h.say(USER, "/start", expect="What do you need?")
        await h.press(USER, "Buy now")
        await h.press(USER, "Big")
        await h.say(USER, "We want to buy", expect="Leave your phone?")
        h.push(h.tg.contact_update(USER, "+79991234567"))
        await slow.waiting.wait()  # USER's classification is stuck on the "model"
        await h.say(OTHER, "/start", expect="What do you need?")  # OTHER is not held up
        typing = await until(lambda: _typing_calls(h, USER) >= 3, h.tg.describe_calls)
        assert typing
        slow.gate.set()
        await h.expect(USER, "Machine X")


def _typing_calls(h: Harness, user: int) -> int:
    calls: list[Any] = h.tg.calls_of("sendChatAction")
    return sum(1 for c in calls if c.chat_id == user and c.params["action"] == "typing")


async def test_forget_erases_the_lead_and_confirms(h: Harness) -> None:
    await reach_hot_offer(h)
    done = await h.say(USER, "/forget", expect=h.texts.forgotten)
    assert done is not None and done.reply_markup == {"remove_keyboard": True}
    assert await h.lead(USER) is None  # the record stays, no longer tied to the person
    async with h.db.session() as session:
        [lead] = (await session.execute(select(Lead))).scalars()
        types = [e.type for e in (await session.execute(select(Event))).scalars()]
    assert (lead.user_id, lead.phone, lead.status) == (-lead.id, None, "unsubscribed")
    assert types[-1] == "forgotten"


async def test_pre_checkout_accepts_only_our_invoices(h: Harness) -> None:
    ours = h.push(h.tg.pre_checkout_update(USER, 500, payload="offer:info_big"))
    theirs = h.push(h.tg.pre_checkout_update(USER, 500, payload="something-else"))
    answers = await until(
        lambda: (
            len(h.tg.calls_of("answerPreCheckoutQuery")) == 2
            and h.tg.calls_of("answerPreCheckoutQuery")
        ),
        h.tg.describe_calls,
    )
    by_id = {c.params["pre_checkout_query_id"]: c for c in answers}
    assert by_id[ours["pre_checkout_query"]["id"]].params["ok"] is True
    refused = by_id[theirs["pre_checkout_query"]["id"]]
    assert refused.ok and refused.params["ok"] is False and refused.params["error_message"]


async def test_prospects_leave_nothing_in_the_fsm_storage(h: Harness) -> None:
    """aiogram reads every update's FSM state; a prospect's chat must not leave a record
    behind for the life of the process (``app.fsm_storage``)."""
    for user in range(USER, USER + 5):
        await h.say(user, "/start", expect="What do you need?", first_name="Ann")
        await h.press(user, "Buy now")
    storage = h.dp.fsm.storage
    assert isinstance(storage, MemoryStorage)
    assert dict(storage.storage) == {}
