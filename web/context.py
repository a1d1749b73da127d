"""What every page handler reaches through ``request.app[CONTEXT]``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from aiohttp import web

from bot.managers.staff import Staff
from bot.service import FunnelService
from bot.service.ports import ChannelFor
from web.auth import Gate


@dataclass
class WebContext:
    service: FunnelService
    staff: Staff
    gate: Gate
    scenario_path: Path
    base_url: str | None = None  # WEB_URL: where sign-in links point
    # How a manager's message reaches a lead (the bot's channels and limiter); None: no bot.
    channel_for: ChannelFor | None = None
    inbox_tick: float = 2.0  # seconds between the inbox stream's looks at the lead log
    seen_version: str = ""
    version_since: datetime | None = None  # when this process first served seen_version

    @property
    def tz(self) -> tzinfo:
        return self.staff.zone(self.service.scenario.funnel.timezone)

    def note_version(self) -> None:
        version = self.service.scenario.funnel.version
        if version != self.seen_version:
            self.seen_version, self.version_since = version, self.service.clock()


CONTEXT = web.AppKey("leadbot_web", WebContext)
#: Set when the server shuts down, so open inbox streams end at once instead of holding it.
CLOSING = web.AppKey("leadbot_web_closing", asyncio.Event)
