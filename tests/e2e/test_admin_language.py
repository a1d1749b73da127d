"""Admin commands speak the admin's Telegram language (Russian or English), else
ADMIN_LANGUAGE: through the real dispatcher against FakeBotAPI over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer

from app.factory import make_dispatcher
from bot.managers.staff import Staff, admin_language
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from fakes.bot_api import FakeBotAPI
from tests.e2e.harness import MINI, TOKEN, Harness, PlainHTTPSession, open_service, polling

ADMIN = 700


@asynccontextmanager
async def admin_bot(tg: FakeBotAPI, tmp_path: Path, fallback: str) -> AsyncIterator[Harness]:
    db, service = await open_service(tmp_path / "leads.db", MINI)
    bot = Bot(
        TOKEN,
        session=PlainHTTPSession(api=TelegramAPIServer.from_base(tg.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    channels = Channels(
        service.scenario, throttle=Throttle(rate=1000, per_chat=1000, burst=1000, chat_burst=1000)
    )
    staff = Staff(frozenset({ADMIN}), alert_pause=0, language=fallback)
    dp = make_dispatcher(bot, service, channels, touch_interval=0.1, drain_timeout=5, staff=staff)
    h = Harness(tg, bot, dp, service, db, channels)
    try:
        async with polling(h):
            yield h
    finally:
        await bot.session.close()
        await db.close()


async def answer(h: Harness, text: str, language_code: str) -> str:
    since = len(h.tg.sent(ADMIN))
    h.push(h.tg.message_update(ADMIN, text, language_code=language_code))
    await h.settle()
    return "\n".join(c.text or "" for c in h.tg.sent(ADMIN)[since:])


def test_the_language_rule() -> None:
    assert admin_language("ru", "en") == "ru"
    assert admin_language("uk", "en") == "ru"
    assert admin_language("en-GB", "ru") == "en"
    assert admin_language("de", "ru") == "ru"
    assert admin_language(None, "en") == "en"


async def test_a_russian_admin_is_answered_in_russian(tg: FakeBotAPI, tmp_path: Path) -> None:
    async with admin_bot(tg, tmp_path, fallback="en") as h:
        assert "Команды администратора" in await answer(h, "/admin", "ru")
        assert "Так: /take" in await answer(h, "/take", "ru")
        assert "Лида 999 нет." in await answer(h, "/take 999", "ru")
        assert "Лида @nobody нет." in await answer(h, "/lead @nobody", "ru")
        # The same admin with an English Telegram gets English.
        assert "Admin commands" in await answer(h, "/admin", "en")
        assert "No lead 999." in await answer(h, "/release 999", "en")


async def test_other_languages_get_admin_language(tg: FakeBotAPI, tmp_path: Path) -> None:
    async with admin_bot(tg, tmp_path, fallback="ru") as h:
        assert "Команды администратора" in await answer(h, "/admin", "de")
        assert "Admin commands" in await answer(h, "/admin", "en")


async def test_stats_report_and_cards_in_russian(tg: FakeBotAPI, tmp_path: Path) -> None:
    async with admin_bot(tg, tmp_path, fallback="en") as h:
        stats = await answer(h, "/stats", "ru")
        assert "Лиды</b> из Telegram" in stats and "новые лиды" in stats
        report = await answer(h, "/report", "ru")
        assert "Воронка" in report and "отвалились" in report
        assert "Funnel" in await answer(h, "/report", "en")
