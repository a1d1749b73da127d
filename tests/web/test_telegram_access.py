"""The ways in from Telegram: ``leadbot run`` serves the dashboard beside the webhook,
``/web`` gives an admin a working one-time link, ``/admin`` carries the Mini App button."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp

from app.runner import run_bot
from fakes.bot_api import FakeBotAPI
from tests.e2e.test_run import HOOK, SECRET, free_port, settings_for

ADMIN = 31337
PROSPECT = 4040
WEB = "https://bot.example.test"


async def test_run_serves_the_dashboard_beside_the_webhook(tg: FakeBotAPI, tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(
        tg,
        tmp_path,
        webhook_url=HOOK,
        webhook_secret=SECRET,
        webhook_host="127.0.0.1",
        webhook_port=port,
        web_url=WEB,
        admin_ids=[ADMIN],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, touch_interval=0.1))
    local = f"http://127.0.0.1:{port}"
    try:
        await tg.wait_for(lambda c: c.method == "setWebhook")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{local}/funnel") as r:
                assert r.status == 401  # the dashboard is there, and closed
            start = tg.message_update(PROSPECT, "/start")
            assert await tg.post_webhook(f"{local}/tg/hook", start, secret=SECRET) == 200
            assert "What do you need?" in tg.sent_texts(PROSPECT)  # the webhook still works

            # A prospect's /web is not a command for them: no link.
            assert (
                await tg.post_webhook(
                    f"{local}/tg/hook", tg.message_update(PROSPECT, "/web"), secret=SECRET
                )
                == 200
            )
            assert not any("auth/link" in t for t in tg.sent_texts(PROSPECT))

            update = tg.message_update(ADMIN, "/web", language_code="ru")
            assert await tg.post_webhook(f"{local}/tg/hook", update, secret=SECRET) == 200
            sent = await tg.wait_for_sent(ADMIN, "/auth/link/")
            assert "Ссылка для входа" in (sent.text or "")
            assert "is_disabled" in str(sent.params)  # no link preview spends the link
            token = re.search(r"/auth/link/(\S+)", sent.text or "")
            assert token is not None
            data = {"token": token.group(1)}
            async with http.post(f"{local}/auth/link", data=data, allow_redirects=False) as r:
                assert r.status == 303
                cookie = r.headers["Set-Cookie"]
            # An HTTPS WEB_URL: the cookie is for HTTPS only, and works in the Mini App's iframe.
            assert all(x in cookie for x in ("HttpOnly", "Secure", "SameSite=None"))
            session = cookie.split(";")[0]
            async with http.get(f"{local}/leads", headers={"Cookie": session}) as r:
                assert r.status == 200 and "Лиды" in await r.text()

            update = tg.message_update(ADMIN, "/admin")
            assert await tg.post_webhook(f"{local}/tg/hook", update, secret=SECRET) == 200
            help_ = await tg.wait_for_sent(ADMIN, "/web")
            buttons = help_.reply_markup["inline_keyboard"][0]  # type: ignore[index]
            assert buttons[0]["web_app"]["url"] == f"{WEB}/app"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_polling_serves_the_dashboard_on_its_own_port(tg: FakeBotAPI, tmp_path: Path) -> None:
    """With polling there is no webhook server: WEB_PORT gets one of its own (the dashboard
    is imported only then, app/runner.py)."""
    port = free_port()
    settings = settings_for(tg, tmp_path, webhook_host="127.0.0.1", web_port=port)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, touch_interval=0.1))
    try:
        await tg.wait_for(lambda c: c.method == "deleteWebhook", timeout=15)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/funnel") as r,
        ):
            assert r.status == 401  # the dashboard is there, and closed
        tg.push_update(tg.message_update(PROSPECT, "/start"))
        await tg.wait_for_sent(PROSPECT, "What do you need?")  # polling still works
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
