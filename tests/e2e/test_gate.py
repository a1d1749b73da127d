"""A lead magnet behind a subscription gate, over HTTP against the fake Bot API.

The fake answers ``getChatMember`` as Telegram does: only to an admin of the channel, and
"left" until the prospect joins. The file is refused until the fake reports membership.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from bot.reports.render import metrics_table
from bot.reports.report import Report, build_report
from bot.service import utcnow
from fakes.bot_api import FakeBotAPI
from storage.criteria import LeadFilter
from tests.e2e.harness import MINI, Harness, harness_for, polling
from tests.e2e.test_journey import walk_to_magnet

USER = 801
CHANNEL = "@coffee_news"
GATE = f"""      gate:
        channel: "{CHANNEL}"
        prompt: Join our channel and the guide is yours.
"""


@pytest.fixture
def gated(tmp_path: Path) -> Path:
    text = MINI.read_text(encoding="utf-8")
    anchor = "      contact_prompt: Leave a contact for the guide\n"
    assert anchor in text
    path = tmp_path / "gated" / "mini.yaml"
    path.parent.mkdir()
    path.write_text(text.replace(anchor, anchor + GATE), encoding="utf-8")
    (path.parent / "assets").symlink_to(MINI.parent / "assets")
    return path


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path, gated: Path) -> AsyncIterator[Harness]:
    async with harness_for(tg, tmp_path, gated) as harness, polling(harness):
        yield harness


def documents(h: Harness, user: int) -> list[str]:
    return [c.text or "" for c in h.tg.sent(user) if c.method == "sendDocument" and c.ok]


async def test_the_gate_refuses_the_file_until_the_prospect_joins(
    h: Harness, tg: FakeBotAPI
) -> None:
    tg.add_channel(CHANNEL)
    await h.say(USER, "/start", expect="What do you need?")
    await h.press(USER, "Just looking")
    await h.press(USER, "Big")
    await h.say(USER, "We compare a few options", expect="Leave your phone?")
    await h.share_contact(USER, "Thank you!")
    ask = await h.expect(USER, "Join our channel")
    assert ask.button_texts == ["Join the channel", "Check subscription"]
    assert ask.reply_markup is not None
    assert ask.reply_markup["inline_keyboard"][0][0]["url"] == "https://t.me/coffee_news"
    checked = [c for c in tg.calls if c.method == "getChatMember"]
    assert checked and checked[-1].ok and checked[-1].result["status"] == "left"

    await h.press(USER, "Check subscription")  # not yet: a friendly word, no file
    await h.expect(USER, "I don't see you in the channel yet")
    assert documents(h, USER) == []

    tg.join_channel(CHANNEL, USER)
    await h.press(USER, "Check subscription")
    await tg.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == USER and c.ok)
    assert documents(h, USER) == ["Our guide"]
    types = await h.event_types(USER)
    assert types.count("gate_shown") == 1 and types.count("gate_not_yet") == 1
    joined = types.index("gate_joined")
    assert types[joined + 1] == "lead_magnet_delivered"

    # The old check button is spent: the lead has moved on.
    spent = await h.press(USER, "Check subscription")
    assert spent.params.get("text") == h.texts.not_current
    assert documents(h, USER) == ["Our guide"]

    report = await build_report(h.db, h.service.scenario.funnel, LeadFilter(), utcnow())
    assert (report.total.gates_shown, report.total.gates_joined) == (1, 1)
    rows = [row for row in _rows(report) if row.startswith("Gate") or row.startswith("CR gate")]
    # the columns: all leads, then the one source
    assert rows == [
        "Gate: asked to join 1 1",
        "Gate: joined 1 1",
        "CR gate ask → join 100.0% 100.0%",
    ]


async def test_a_member_gets_the_file_at_once(h: Harness, tg: FakeBotAPI) -> None:
    tg.add_channel(CHANNEL)
    tg.message_update(USER, None)  # the fake meets the user before they join
    tg.join_channel(CHANNEL, USER)
    await walk_to_magnet(h, USER)
    assert not any("Join our channel" in (c.text or "") for c in tg.sent(USER))
    assert "gate_passed" in await h.event_types(USER)


async def test_a_channel_the_bot_cannot_see_lets_the_prospect_through(
    h: Harness, tg: FakeBotAPI
) -> None:
    tg.add_channel(CHANNEL, bot_is_admin=False)  # Telegram: "member list is inaccessible"
    await walk_to_magnet(h, USER)
    refused = [c for c in tg.calls if c.method == "getChatMember"]
    assert refused and not refused[0].ok
    assert "gate_unchecked" in await h.event_types(USER)


def _rows(report: Report) -> list[str]:
    out = StringIO()
    Console(file=out, width=120).print(metrics_table(report))
    return [" ".join(line.replace("│", " ").split()) for line in out.getvalue().splitlines()]
