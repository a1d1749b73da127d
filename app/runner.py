"""``leadbot run``: long polling, or a webhook server when ``WEBHOOK_URL`` is set.

Both stop gracefully on SIGINT/SIGTERM (or when ``stop`` is set, for tests): no new updates
are taken, updates being handled finish, the touch loop ends its round, and only then are
the bot's HTTP session and the database closed.

The webhook server (aiohttp's web part, aiogram's webhook helpers) and the dashboard (its
pages, templates and report tables) are imported only when their settings turn them on:
together about 5 MB of resident memory a polling bot without the dashboard never uses.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

from app.dispatcher import LeadDispatcher
from app.factory import make_bot, make_dispatcher
from app.maintenance import Maintenance
from app.malloc import limit_arenas
from app.preflight import StartupError, check_settings
from app.wiring import open_app
from bot.managers.crm import CrmWebhook
from bot.managers.staff import Staff
from bot.settings import Settings
from bot.telegram.channel import Channels
from bot.telegram.throttle import Throttle

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 16


async def run_bot(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    touch_interval: float = 1.0,
    polling_timeout: int = 10,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run until a signal (or ``stop``); raises ``StartupError`` when it cannot start.

    ``ready`` is called once everything is built, right before the first update is taken
    (``leadbot run`` settles the heap there, ``app.heap``)."""
    token = check_settings(settings)
    limit_arenas()  # before the database's connection threads start (app/malloc.py)
    bot = make_bot(token, settings.telegram_api_url, settings.telegram_timeout)
    try:
        async with open_app(settings) as app:
            me = await _whoami(bot, settings)
            channels = Channels(
                app.service.scenario,
                provider_token=provider_token(settings),
                throttle=Throttle(settings.send_rate, settings.chat_rate),
                reach=app.service,
            )
            dp = make_dispatcher(
                bot,
                app.service,
                channels,
                touch_interval=touch_interval,
                staff=Staff.from_settings(settings),
                crm=CrmWebhook.from_settings(settings, app.service),
            )
            upkeep = Maintenance(bot, app.service, settings, channels)
            dp["reloader"] = upkeep.reloader
            dp.startup.register(upkeep.start)
            dp.shutdown.register(upkeep.stop)
            dashboard: web.Application | None = None
            if settings.web_enabled:
                from app.dashboard import attach_dashboard

                dashboard = attach_dashboard(settings, app.service, bot, channels, dp)
            if ready is not None:
                ready()
            if settings.webhook_url:
                log.info("@%s: serving the webhook %s", me, settings.webhook_url)
                await serve_webhook(bot, dp, settings, stop, dashboard)
            elif dashboard is None:
                log.info("@%s: long polling", me)
                await serve_polling(bot, dp, stop, polling_timeout)
            else:
                from app.dashboard import served_alone

                log.info("@%s: long polling", me)
                async with served_alone(dashboard, settings):
                    await serve_polling(bot, dp, stop, polling_timeout)
    finally:
        await bot.session.close()
    log.info("stopped")


def provider_token(settings: Settings) -> str:
    """PAYMENT_PROVIDER_TOKEN, for invoices in money (Stars need none); "" when unset."""
    token = settings.payment_provider_token
    return token.get_secret_value() if token is not None else ""


async def _whoami(bot: Bot, settings: Settings) -> str:
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        raise StartupError("Setting BOT_TOKEN: Telegram does not accept this token", 2) from None
    except TelegramAPIError as exc:
        raise StartupError(
            f"cannot reach the Bot API at {settings.telegram_api_url}: {exc}"
        ) from None
    return me.username or str(me.id)


async def serve_polling(
    bot: Bot, dp: LeadDispatcher, stop: asyncio.Event | None = None, polling_timeout: int = 10
) -> None:
    """Long polling; a webhook left from a previous run is removed first (updates kept)."""
    await bot.delete_webhook(drop_pending_updates=False)
    watcher = asyncio.create_task(_stop_polling_when(stop, dp)) if stop is not None else None
    try:
        await dp.start_polling(
            bot,
            polling_timeout=polling_timeout,
            handle_signals=stop is None,
            close_bot_session=False,
            allowed_updates=dp.resolve_used_update_types(),
            # A burst waits in Telegram's queue rather than timing out on the DB pool here.
            tasks_concurrency_limit=CONCURRENT_UPDATES,
        )
    finally:
        if watcher is not None:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher
    await _confirm_handled(bot, dp)


async def _stop_polling_when(stop: asyncio.Event, dp: LeadDispatcher) -> None:
    await stop.wait()
    while True:
        try:
            await dp.stop_polling()
            return
        except RuntimeError:  # polling has not started yet
            await asyncio.sleep(0.05)


async def _confirm_handled(bot: Bot, dp: LeadDispatcher) -> None:
    """Tell Telegram the last handled update is done, so a restart does not replay it.

    aiogram confirms an update only with its next getUpdates; stopping in between would
    hand the same updates to the next run.
    """
    if not dp.last_update_id:
        return
    with suppress(TelegramAPIError):
        await bot.get_updates(offset=dp.last_update_id + 1, limit=1, timeout=0)


async def serve_webhook(
    bot: Bot,
    dp: LeadDispatcher,
    settings: Settings,
    stop: asyncio.Event | None = None,
    dashboard: web.Application | None = None,
) -> None:
    """An aiohttp server on WEBHOOK_HOST:WEBHOOK_PORT at the path of WEBHOOK_URL.

    Requests without the right ``X-Telegram-Bot-Api-Secret-Token`` get 401 (WEBHOOK_SECRET,
    or one derived from the token: ``app.webhook``); bodies that are not updates get 400.
    Updates are handled before the answer, so Telegram retries one that a stopping bot did
    not finish.
    The webhook stays registered on exit: Telegram keeps updates until the bot is back.
    """
    from aiogram.webhook.aiohttp_server import setup_application
    from aiohttp import web

    from app.webhook import UpdateHandler, webhook_secret
    from web.app import open_path

    assert settings.webhook_url is not None
    secret = webhook_secret(settings, bot.token)
    path = urlsplit(settings.webhook_url).path or "/"
    # With the dashboard, its application serves the webhook path too (one port, one server).
    app = dashboard if dashboard is not None else web.Application()
    if dashboard is not None:
        open_path(dashboard, path)
    setup_application(app, dp, bot=bot)  # first: its shutdown drains updates
    UpdateHandler(dp, bot, handle_in_background=False, secret_token=secret).register(app, path=path)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        try:
            await bot.set_webhook(
                settings.webhook_url,
                secret_token=secret,
                allowed_updates=dp.resolve_used_update_types(),
            )
        except TelegramAPIError as exc:
            raise StartupError(f"Setting WEBHOOK_URL: Telegram refused it: {exc.message}") from None
        await _until_stopped(stop)
    finally:
        await runner.cleanup()


async def _until_stopped(stop: asyncio.Event | None) -> None:
    if stop is not None:
        await stop.wait()
        return
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, event.set)
    try:
        await event.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
