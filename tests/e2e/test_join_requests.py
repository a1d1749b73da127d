"""A request to join a private channel as an entry to the funnel, over HTTP.

The fake Bot API sends ``chat_join_request`` through a named invite link, lets the bot
write to ``user_chat_id`` and decides the request once, as Telegram does. The scenario
here approves after consent: the person is let in only when they agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.reports.report import build_report
from bot.service import utcnow
from fakes.bot_api import FakeBotAPI
from storage.criteria import LeadFilter
from tests.e2e.harness import MINI, Harness, harness_for, polling

CHANNEL = -1001234567890
ANNA, BORIS, VERA = 901, 902, 903
CONSENT = """  - id: consent
    consent: May we keep your answers to advise you?
    policy_url: https://example.com/privacy
    agree: I agree
    decline: No, thanks
"""


def scenario(tmp_path: Path, approve: str) -> Path:
    text = MINI.read_text(encoding="utf-8")
    anchor = "  - id: q_need\n"
    assert anchor in text
    text = text.replace(anchor, CONSENT + anchor, 1)
    text += f"\njoin_requests:\n  approve: {approve}\n"
    path = tmp_path / approve / "mini.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    (path.parent / "assets").symlink_to(MINI.parent / "assets")
    return path


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    path = scenario(tmp_path, "after_consent")
    async with harness_for(tg, tmp_path, path) as harness, polling(harness):
        yield harness


def decided(tg: FakeBotAPI, user: int) -> list[str]:
    return [
        c.method
        for c in tg.calls
        if c.method.endswith("ChatJoinRequest") and c.params.get("user_id") == user and c.ok
    ]


async def test_a_join_request_becomes_a_lead_approved_after_consent(
    h: Harness, tg: FakeBotAPI
) -> None:
    h.push(tg.join_request_update(CHANNEL, ANNA, link_name="VK ads", first_name="Anna"))
    await h.expect(ANNA, "Hello, Anna!")  # written to user_chat_id: she never opened the bot
    await h.expect(ANNA, "May we keep your answers")
    assert decided(tg, ANNA) == []  # not yet: the scenario waits for consent
    await h.press(ANNA, "I agree")
    await h.expect(ANNA, "What do you need?")
    assert decided(tg, ANNA) == ["approveChatJoinRequest"]
    assert ANNA in tg.channel_members[str(CHANNEL)]

    lead = await h.lead(ANNA)
    assert lead is not None and lead.source == "VK_ads"  # the invite link's name
    types = await h.event_types(ANNA)
    assert types[:2] == ["join_requested", "started"]
    assert "join_approved" in types

    # Refusing consent declines the request; the funnel goes on without the channel.
    h.push(tg.join_request_update(CHANNEL, BORIS, link_name="VK ads"))
    await h.press(BORIS, "No, thanks")
    await tg.wait_for(lambda c: c.method == "declineChatJoinRequest" and c.ok)
    assert BORIS not in tg.channel_members[str(CHANNEL)]

    # A link without a name: a lead with no source. The report by source is by invite link.
    h.push(tg.join_request_update(CHANNEL, VERA))
    await h.expect(VERA, "May we keep your answers")
    report = await build_report(h.db, h.service.scenario.funnel, LeadFilter(), utcnow())
    assert {src: m.leads for src, m in report.by_source.items()} == {"VK_ads": 2, "(none)": 1}


async def test_decline_still_starts_the_funnel_and_telegram_decides_once(
    tg: FakeBotAPI, tmp_path: Path
) -> None:
    path = scenario(tmp_path, "decline")
    async with harness_for(tg, tmp_path, path) as h, polling(h):
        h.push(tg.join_request_update(CHANNEL, ANNA, link_name="webinar"))
        await h.expect(ANNA, "May we keep your answers")  # the funnel runs all the same
        assert decided(tg, ANNA) == ["declineChatJoinRequest"]
        assert ANNA not in tg.channel_members[str(CHANNEL)]
        # Telegram refuses to decide a request twice: the bot's channel says so, no raise.
        chat = h.channels.chat(h.bot, ANNA)
        assert await chat.decide_join(str(CHANNEL), True) is False
        refused = [c for c in tg.calls if c.method == "approveChatJoinRequest"]
        assert refused and not refused[-1].ok
        assert "HIDE_REQUESTER_MISSING" in (refused[-1].error or "")
        lead = await h.lead(ANNA)
        assert lead is not None and lead.source == "webinar"
        assert "join_declined" in await h.event_types(ANNA)
