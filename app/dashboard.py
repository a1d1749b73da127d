"""Wiring the managers' dashboard (``web/``): beside the running bot (``leadbot run`` with
WEB_PORT or WEB_URL) or alone (``leadbot web``, for polling deployments and the demo
database). Here rather than in ``web/`` so the pages never import the process wiring."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot
from aiohttp import web

from app.dispatcher import LeadDispatcher
from app.factory import make_bot
from app.wiring import open_app
from bot.managers.staff import Staff
from bot.service import FunnelService
from bot.settings import Settings
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle
from web.app import build_app
from web.auth import Gate, web_key
from web.context import WebContext

log = logging.getLogger(__name__)

ALONE_PORT = 8081  # ``leadbot web`` without WEB_PORT


def make_context(
    settings: Settings,
    service: FunnelService,
    bot: Bot | None = None,
    channels: Channels | None = None,
) -> WebContext:
    """With ``bot`` and ``channels`` (the bot's own), managers' messages share its limiter."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    secret = settings.web_secret.get_secret_value() if settings.web_secret else None
    admins = frozenset(settings.admin_ids)
    gate = Gate(web_key(secret, token), admins, token, settings.admin_language)
    channel_for = channels.for_leads(bot) if bot is not None and channels is not None else None
    return WebContext(
        service=service,
        staff=Staff.from_settings(settings),
        gate=gate,
        scenario_path=settings.scenario,
        base_url=settings.web_url,
        channel_for=channel_for,
    )


def attach_dashboard(
    settings: Settings, service: FunnelService, bot: Bot, channels: Channels, dp: LeadDispatcher
) -> web.Application | None:
    """The dashboard when WEB_PORT or WEB_URL is set; /web and /admin learn of it."""
    if not settings.web_enabled:
        return None
    ctx = make_context(settings, service, bot, channels)
    dp["web_gate"], dp["web_url"] = ctx.gate, settings.web_url
    return build_app(ctx)


@asynccontextmanager
async def served_alone(
    dashboard: web.Application | None, settings: Settings
) -> AsyncIterator[None]:
    """With polling there is no webhook server: the dashboard gets its own on WEB_PORT."""
    if dashboard is None:
        yield
        return
    runner = web.AppRunner(dashboard, access_log=None)
    await runner.setup()
    try:
        port = settings.web_port or settings.webhook_port
        await web.TCPSite(runner, settings.webhook_host, port).start()
        log.info("the dashboard is on port %s", port)
        yield
    finally:
        await runner.cleanup()


async def serve_alone(
    settings: Settings, stop: asyncio.Event | None = None, login: int | None = None
) -> None:
    """``leadbot web``: the dashboard on WEB_PORT (default 8081), until Ctrl-C or ``stop``.

    ``login``: print a one-time sign-in link for that admin (a local try-out needs no bot).
    """
    async with open_app(settings) as app:
        bot = None
        channels = None
        if settings.bot_token is not None:
            bot = make_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
            channels = Channels(
                app.service.scenario,
                throttle=Throttle(settings.send_rate, settings.chat_rate),
                reach=app.service,  # a business lead is written to through its connection
            )
        ctx = make_context(settings, app.service, bot, channels)
        runner = web.AppRunner(build_app(ctx), access_log=None)
        await runner.setup()
        port = settings.web_port or ALONE_PORT
        try:
            await web.TCPSite(runner, settings.webhook_host, port).start()
            base = settings.web_url or f"http://127.0.0.1:{port}"
            print(f"The dashboard: {base}/", flush=True)
            if login is not None:
                token = ctx.gate.issue_link(login, f"admin {login}", None)
                print(f"Sign in (once, within 5 minutes): {base}/auth/link/{token}", flush=True)
            await (stop or asyncio.Event()).wait()
        finally:
            await runner.cleanup()
            if bot is not None:
                await bot.session.close()
