"""An admin's /lead card whatever the prospect typed: within Telegram's rules, and never lost.

Over HTTP against FakeBotAPI, which parses HTML and measures text as Telegram does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine.text import MAX_ANSWER
from bot.telegram.split import visible_text
from fakes.bot_api import FakeBotAPI
from tests.e2e.harness import Harness, until
from tests.e2e.test_admin import ADMIN, USER, staffed

#: Markup a prospect might paste; the bot keeps the first MAX_ANSWER characters of an answer.
PASTED = "<a href='x'>&amp;</a><b>" * 160
KEPT = PASTED[:MAX_ANSWER]


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    async with staffed(tg, tmp_path) as harness:
        yield harness


async def hot_lead_who_typed(h: Harness, text: str) -> None:
    await h.say(USER, "/start ads", expect="What do you need?", first_name="Ann")
    await h.press(USER, "Buy now")
    await h.press(USER, "Big")
    await h.say(USER, text, expect="Leave your phone?")
    await h.share_contact(USER, "Machine X for")
    await h.settle()


async def test_a_card_full_of_html_arrives_whole_and_escaped(h: Harness) -> None:
    await hot_lead_who_typed(h, PASTED)
    since = len(h.tg.sent(ADMIN))
    await h.say(ADMIN, "/lead 1", expect="Lead #1")
    await h.settle()
    cards = h.tg.calls_of("sendMessage")
    mine = [c for c in cards if c.chat_id == ADMIN][since:]
    assert len(mine) >= 2 and all(c.ok for c in mine)  # cut into parts Telegram takes
    shown = "".join(visible_text(c.params["text"]) for c in mine)
    assert KEPT in shown.replace("\n", "")  # every character, shown as typed


async def test_a_refused_card_reaches_the_admin_as_a_file(h: Harness) -> None:
    await hot_lead_who_typed(h, PASTED)
    # A refusal splitting cannot foresee (Telegram's limit on the entities' total size).
    h.tg.fail_next("sendMessage", 400, description="Bad Request: ENTITIES_TOO_LONG")
    h.push(h.tg.message_update(ADMIN, "/lead 1"))
    sent = await until(
        lambda: next(
            (c for c in h.tg.calls if c.method == "sendDocument" and c.chat_id == ADMIN), None
        ),
        h.tg.describe_calls,
    )
    assert sent.ok and "ENTITIES_TOO_LONG" in (sent.text or "")
    (upload,) = sent.files.values()
    card = upload.data.decode()
    assert card.startswith("Lead #1 · Ann") and KEPT in card.replace("\n", "")
    assert "+79991234567" in card
