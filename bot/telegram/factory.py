"""The Bot and the Dispatcher, built in one place for the runner and the tests.

The funnel service and the channel factory reach handlers as workflow data
(``dp["service"]``, ``dp["channels"]``), as aiogram's docs recommend; the service owns the
database. The dispatcher's startup and shutdown hooks run the touch loop and wait for
updates in flight, so polling and the webhook server stop the same way.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.service import FunnelService
from bot.telegram.channel import Channels
from bot.telegram.dispatcher import LeadDispatcher
from bot.telegram.touches import TouchLoop
from handlers import build_router

log = logging.getLogger(__name__)


def make_bot(token: str, api_url: str = "https://api.telegram.org") -> Bot:
    """A Bot speaking HTML to ``api_url`` (Telegram, a local Bot API server, or a fake).

    Raises aiogram's ``TokenValidationError`` for a token of the wrong shape.
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def make_dispatcher(
    bot: Bot,
    service: FunnelService,
    channels: Channels | None = None,
    *,
    touch_interval: float = 1.0,
    drain_timeout: float = 25.0,
) -> LeadDispatcher:
    """Routers, workflow data, and the touch loop tied to the dispatcher's life."""
    channels = channels or Channels(service.scenario)
    dp = LeadDispatcher()
    dp["service"] = service
    dp["channels"] = channels
    dp.include_router(build_router())
    touches = TouchLoop(service, channels.for_leads(bot), interval=touch_interval)
    dp["touches"] = touches

    async def on_startup() -> None:
        touches.start()

    async def on_shutdown() -> None:
        if not await dp.wait_idle(drain_timeout):
            log.warning("%d update(s) still running at shutdown", dp.in_flight)
        await touches.stop()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp
