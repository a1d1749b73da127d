"""The webhook's guards over real HTTP: one secret for every instance, 400 for junk bodies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from app.preflight import SECRET_TOKEN
from app.runner import run_bot
from app.webhook import webhook_secret
from bot.settings import Settings
from fakes.bot_api import FakeBotAPI
from tests.conftest import postgres_database
from tests.e2e.harness import TOKEN, until
from tests.e2e.test_run import HOOK, free_port, settings_for, stored
from tests.integration.test_statement_counts import EXPECTED_LOG

USER = 905


@asynccontextmanager
async def running(tg: FakeBotAPI, settings: Settings) -> AsyncIterator[str]:
    """A webhook instance; yields its local URL once it has registered the webhook."""
    registered = len(tg.calls_of("setWebhook"))
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, touch_interval=0.1))
    try:
        await tg.wait_for(
            lambda c: c.method == "setWebhook" and len(tg.calls_of("setWebhook")) > registered
        )
        yield f"http://127.0.0.1:{settings.webhook_port}/tg/hook"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def webhook_settings(tg: FakeBotAPI, tmp_path: Path) -> Settings:
    return settings_for(
        tg, tmp_path, webhook_url=HOOK, webhook_host="127.0.0.1", webhook_port=free_port()
    )


async def test_instances_without_a_secret_agree_on_one(tg: FakeBotAPI, tmp_path: Path) -> None:
    """Behind a balancer, whichever instance registered last, every instance accepts."""
    settings = webhook_settings(tg, tmp_path)
    other = settings.model_copy(update={"webhook_port": free_port()})
    async with running(tg, settings) as first, running(tg, other) as second:
        sent = [c.params["secret_token"] for c in tg.calls_of("setWebhook")]
        assert len(sent) == 2 and sent[0] == sent[1]
        secret = sent[-1]
        assert SECRET_TOKEN.fullmatch(secret) and TOKEN not in secret
        assert secret == webhook_secret(settings, TOKEN)
        for n, url in enumerate((first, second)):
            update = tg.message_update(USER + n, "/start")
            assert await tg.post_webhook(url, update, secret="wrong") == 401
            assert await tg.post_webhook(url, update, secret=secret) == 200
            assert "What do you need?" in tg.sent_texts(USER + n)


def test_the_derived_secret_follows_the_token() -> None:
    one = Settings(_env_file=None, bot_token=TOKEN, webhook_secret=None)
    two = Settings(_env_file=None, bot_token="654321:OTHER-token", webhook_secret=None)
    assert webhook_secret(one, TOKEN) == webhook_secret(one, TOKEN)
    assert webhook_secret(one, TOKEN) != webhook_secret(two, "654321:OTHER-token")
    chosen = Settings(_env_file=None, bot_token=TOKEN, webhook_secret="set-by-me")
    assert webhook_secret(chosen, TOKEN) == "set-by-me"


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>not json</html>", b"[1, 2]", b"{}", b'{"update_id": "x"}', b"\xff\xfe"],
)
async def test_a_body_that_is_not_an_update_gets_400_and_one_line(
    tg: FakeBotAPI, tmp_path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    settings = webhook_settings(tg, tmp_path)
    secret = webhook_secret(settings, TOKEN)
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
    caplog.set_level(logging.INFO)
    async with running(tg, settings) as url, aiohttp.ClientSession() as client:
        async with client.post(url, data=body, headers=headers) as response:
            assert response.status == 400
            assert "not a Telegram update" in await response.text()
        complaints = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(complaints) == 1, [r.getMessage() for r in complaints]
        assert complaints[0].exc_info is None and "\n" not in complaints[0].getMessage()
        assert "answered 400" in complaints[0].getMessage()
        # The next real update is handled as usual.
        assert await tg.post_webhook(url, tg.message_update(USER, "/start"), secret=secret) == 200
        assert "What do you need?" in tg.sent_texts(USER)


async def test_a_lead_one_instance_made_is_read_by_the_other(
    tg: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two instances on one PostgreSQL database, each with its known leads loaded at start
    (``storage.first_contacts``): a person who started on one presses a button on the other,
    which has never heard of them and guesses "never seen". The guess fails as a whole and
    the press runs again on the lead that is there: the funnel goes on, one lead row."""
    caplog.set_level(logging.INFO, logger="storage.first_contacts")
    caplog.set_level(logging.DEBUG, logger="storage.db")
    async with postgres_database() as url:
        settings = webhook_settings(tg, tmp_path).model_copy(update={"database_url": url})
        other = settings.model_copy(update={"webhook_port": free_port()})
        async with running(tg, settings) as first, running(tg, other) as second:
            await until(lambda: len([r for r in caplog.records if "leads known" in r.message]) == 2)
            secret = webhook_secret(settings, TOKEN)
            start = tg.message_update(USER, "/start")
            assert await tg.post_webhook(first, start, secret=secret) == 200
            question = tg.sent(USER)[-1]
            assert question.text == "What do you need?"
            press = tg.callback_update(
                USER, question.callback_data[0], question.result["message_id"]
            )
            assert await tg.post_webhook(second, press, secret=secret) == 200
            assert tg.sent(USER)[-1].text == "Your budget?"
        again = [r for r in caplog.records if "runs again in a transaction" in r.message]
        assert len(again) == 1, again  # the second instance's guess, and nothing else
        leads, types = await stored(settings)
        assert len(leads) == 1
        assert types == EXPECTED_LOG
