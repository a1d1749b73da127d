"""One scenario, two languages: each prospect reads the demo in their Telegram language.

The demo names its English file under ``translations:``; a Russian and an English client
start the same bot and walk the same steps, each in their words, and the lead log keeps
the language (the report splits by it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.reports.report import build_report
from bot.service import utcnow
from fakes.bot_api import FakeBotAPI
from storage.criteria import LeadFilter
from tests.e2e.harness import DEMO, Harness, harness_for, polling

RU, EN, OTHER = 701, 702, 703


@pytest.fixture
async def demo(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness_for(tg, tmp_path, DEMO) as harness, polling(harness):
        yield harness


async def test_each_prospect_gets_their_language_from_one_scenario(demo: Harness) -> None:
    h = demo
    await h.say(RU, "/start", expect="Чем занимается ваш бизнес?", language_code="ru")
    await h.say(EN, "/start", expect="What does your business do?", language_code="en-GB")
    await h.press(RU, "Интернет-магазин")
    await h.expect(RU, "2/5")
    await h.press(EN, "Online shop")
    english = await h.expect(EN, "2/5")
    assert "What gets in the way" in (english.text or "")
    # Nothing Russian ever reached the English client, nor English the Russian one.
    assert not any("Чем" in (c.text or "") for c in h.tg.sent(EN))
    assert not any("What does" in (c.text or "") for c in h.tg.sent(RU))
    # A language without a file of its own reads the main one (Russian).
    await h.say(OTHER, "/start", expect="Чем занимается ваш бизнес?", language_code="uk")
    # /help answers in the asker's language too.
    await h.say(EN, "/help", expect="Warm Lead")

    ru, en = await h.lead(RU), await h.lead(EN)
    assert ru is not None and en is not None
    assert (ru.language, en.language) == ("ru", "en-GB")
    assert ru.step == en.step  # the same funnel: one step, two languages

    # The report splits by language: en matches en-GB; ru the Russian lead and no other.
    funnel, now = h.service.scenario.funnel, utcnow()
    in_en = await build_report(h.db, funnel, LeadFilter(language="en"), now)
    in_ru = await build_report(h.db, funnel, LeadFilter(language="ru"), now)
    everyone = await build_report(h.db, funnel, LeadFilter(), now)
    assert (in_en.total.leads, in_ru.total.leads, everyone.total.leads) == (1, 1, 3)
    assert in_en.filters == {"language": "en"}
