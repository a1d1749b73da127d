"""Background upkeep of a running bot: live scenario reload (file watch, SIGHUP, /reload)
and the daily retention job. Started and stopped with the dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
from datetime import UTC, datetime, timedelta

from aiogram import Bot

from bot.privacy import prune
from bot.reload import Reloader, ReloadResult
from bot.service import FunnelService
from bot.settings import Settings

log = logging.getLogger(__name__)

DAY = 24 * 3600.0


class Maintenance:
    def __init__(
        self, bot: Bot, service: FunnelService, settings: Settings, watch_interval: float = 2.0
    ) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        self.watch_interval = watch_interval
        self.reloader = Reloader(
            service.scenario, settings.scenario, settings.timezone, self.tell_admins
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def tell_admins(self, result: ReloadResult) -> None:
        """Admins hear about every reload, and about a broken edit once."""
        if not result.changed:
            return
        text = html.escape(result.describe(), quote=False)[:4000]
        for admin in self.settings.admin_ids:
            try:
                await self.bot.send_message(admin, f"<pre>{text}</pre>")
            except Exception as exc:  # an admin who never opened the bot, say
                log.warning("could not tell admin %s about the reload: %s", admin, exc)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.reloader.watch(self.watch_interval)))
        if self.settings.retention_days > 0:
            self._tasks.append(asyncio.create_task(self._retention()))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reloader.trigger)

    async def stop(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _retention(self) -> None:
        keep = timedelta(days=self.settings.retention_days)
        while True:
            try:
                count = await prune(
                    self.service.db, self.service.scenario.funnel, datetime.now(UTC), keep
                )
                if count:
                    log.info("retention: erased the personal data of %d quiet lead(s)", count)
            except Exception:
                log.exception("the retention job failed; it runs again tomorrow")
            await asyncio.sleep(DAY)
