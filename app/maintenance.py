"""Background upkeep of a running bot: live scenario reload (file watch, SIGHUP, /reload)
and the daily retention job, both ``Periodic`` chores started and stopped with the
dispatcher, and, once at start, filling the database's known leads (PostgreSQL:
``storage.first_contacts``). Admins hear about reloads through the process's one outgoing
limiter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.methods import SendMessage

from bot.managers.chores import Periodic
from bot.privacy import prune
from bot.reload import Reloader, ReloadResult
from bot.service import FunnelService, RecipientGone, SendRejected
from bot.settings import Settings
from bot.telegram.channel import Channels
from bot.telegram.views import esc

log = logging.getLogger(__name__)

DAY = 24 * 3600.0
NOTICE_LIMIT = 4000  # room for <pre></pre> within Telegram's 4096


class Maintenance:
    def __init__(
        self,
        bot: Bot,
        service: FunnelService,
        settings: Settings,
        channels: Channels,
        watch_interval: float = 2.0,
    ) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        self.channels = channels
        self.reloader = Reloader(
            service.scenario, settings.scenario, settings.timezone, self.tell_admins
        )
        self.reloader.chore.every = watch_interval
        self.chores: list[Periodic[object]] = [self.reloader.chore]
        if settings.retention_days > 0:
            self.chores.append(Periodic("retention", self.retention, every=DAY))
        self.known_leads: asyncio.Task[None] | None = None

    async def tell_admins(self, result: ReloadResult) -> None:
        """Admins hear about every reload, and about a broken edit once."""
        if not result.changed:
            return
        text = f"<pre>{esc(result.describe())[:NOTICE_LIMIT]}</pre>"
        for admin in self.settings.admin_ids:
            try:
                await self.channels.chat(self.bot, admin).call(
                    SendMessage(chat_id=admin, text=text)
                )
            except (RecipientGone, SendRejected) as exc:  # an admin who never opened the bot
                log.warning("could not tell admin %s about the reload: %s", admin, exc)

    async def retention(self) -> int:
        """Erase the personal data of leads quiet for longer than RETENTION_DAYS."""
        keep = timedelta(days=self.settings.retention_days)
        count = await prune(self.service.db, self.service.scenario.funnel, datetime.now(UTC), keep)
        if count:
            log.info("retention: erased the personal data of %d quiet lead(s)", count)
        return count

    async def load_known_leads(self, first_retry: float = 5.0) -> None:
        """Until this is done every first contact is read first; a failure (the database
        away at start) is logged and tried again later, never fatal."""
        delay = first_retry
        while True:
            try:
                await self.service.db.load_known_leads()
                return
            except Exception as exc:
                log.warning(
                    "first contacts: the known leads could not be loaded (%s: %s); "
                    "every lead is read until they are; trying again in %.0fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 600.0)

    async def start(self) -> None:
        for chore in self.chores:
            chore.start()
        self.known_leads = asyncio.create_task(self.load_known_leads())
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reloader.trigger)

    async def stop(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self.known_leads is not None:
            self.known_leads.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.known_leads
        for chore in self.chores:
            await chore.stop()
