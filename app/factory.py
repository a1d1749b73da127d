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
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

from app.dispatcher import LeadDispatcher
from app.fsm_storage import LeanMemoryStorage
from bot.broadcasts.winback import EVERY as WINBACK_EVERY
from bot.broadcasts.winback import winback_chore
from bot.managers.crm import CrmWebhook
from bot.managers.handoff import CHECK_EVERY, handoff_chore
from bot.managers.staff import Staff
from bot.managers.subscriptions import CHECK_EVERY as CHURN_EVERY
from bot.managers.subscriptions import churn_chore
from bot.service import FunnelService
from bot.service.presence import Presence
from bot.telegram.actions import KeepResponseModels, QuietChatActions
from bot.telegram.alerts import ManagerAlerts
from bot.telegram.channel import Channels
from bot.telegram.session import JsonSession
from bot.telegram.touches import TouchLoop
from handlers import build_router

log = logging.getLogger(__name__)


def make_bot(token: str, api_url: str = "https://api.telegram.org", timeout: float = 30.0) -> Bot:
    """A Bot speaking HTML to ``api_url`` (Telegram, a local Bot API server, or a fake);
    ``timeout`` bounds each call (a send that runs out of it is in doubt).

    Raises aiogram's ``TokenValidationError`` for a token of the wrong shape.
    """
    session = JsonSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    session.middleware(QuietChatActions())  # "typing…" failing never reaches the log as ERROR
    session.middleware(KeepResponseModels())  # no schema rebuilt per call (see its docstring)
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def make_dispatcher(
    bot: Bot,
    service: FunnelService,
    channels: Channels | None = None,
    *,
    touch_interval: float = 1.0,
    drain_timeout: float = 25.0,
    staff: Staff | None = None,
    crm: CrmWebhook | None = None,
    handoff_check: float = CHECK_EVERY,
    winback_every: float = WINBACK_EVERY,
    churn_every: float = CHURN_EVERY,
) -> LeadDispatcher:
    """Routers, workflow data, and the background work tied to the dispatcher's life.

    With ``staff.manager_chat_id`` the service's notifier posts alerts there; ``crm`` hears
    every outcome; hand-off time-outs are checked every ``handoff_check`` seconds from the
    touch loop, Stars subscriptions' churn every ``churn_every`` (``dp["churn"]``). /reload
    uses ``dp["reloader"]`` when the runner sets one.
    """
    channels = channels or Channels(service.scenario)
    if channels.reach is None:
        channels.reach = service  # business leads' touches go through their connection
    staff = staff or Staff()
    presence = Presence(service.db, clock=service.clock)
    service.worker = presence.id  # pending work is held in this instance's name
    dp = LeadDispatcher(presence, storage=LeanMemoryStorage())
    dp["service"] = service
    dp["channels"] = channels
    dp["staff"] = staff
    dp.include_router(build_router())
    channel_for = channels.for_leads(bot)
    timeouts = handoff_chore(service, channel_for, every=handoff_check)
    winback = winback_chore(service, every=winback_every)  # the scenario's win-back rules
    churn = dp["churn"] = churn_chore(service, every=churn_every)  # lapsed subscriptions
    touches = TouchLoop(
        service,
        channel_for,
        worker=presence.id,
        interval=touch_interval,
        chores=[timeouts, winback, churn],
    )
    dp["touches"] = touches
    alerts: ManagerAlerts | None = None
    if staff.manager_chat_id is not None:
        tz = staff.zone(service.scenario.funnel.timezone)
        alerts = dp["alerts"] = ManagerAlerts(bot, service, channels, staff, tz)
        service.notifier = alerts
    if crm is not None and crm not in service.sinks:
        service.sinks.append(crm)

    async def on_startup() -> None:
        await presence.start()  # first: claims of our previous run are released at once
        touches.start()
        if alerts is not None:
            alerts.outbox.start()
        if crm is not None:
            crm.start()

    async def on_shutdown() -> None:
        if not await dp.wait_idle(drain_timeout):
            log.warning("%d update(s) still running at shutdown", dp.in_flight)
        await touches.stop()
        await presence.stop()
        if alerts is not None:
            await alerts.outbox.stop()
        if crm is not None:
            await crm.stop()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp
