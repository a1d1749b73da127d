"""Managers and the bot sharing leads: who may see what, and leads managers forgot.

Telegram-free, so the rules read the same in alerts, admin commands and the CRM webhook.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo

from bot.service import Channel, FunnelService
from bot.settings import Settings
from bot.time_phrases import Wait
from storage.models import Lead
from storage.repo import LeadRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Staff:
    """ADMIN_IDS, MANAGER_CHAT_ID and TIMEZONE as the Telegram face needs them.

    ``alert_pause`` spaces alerts out: Telegram lets a bot post about 20 messages a minute
    in a group, and a 429 there would pause the whole bot. ``timezone`` None: the scenario's.
    """

    admin_ids: frozenset[int] = field(default_factory=frozenset)
    manager_chat_id: int | None = None
    timezone: str | None = None
    alert_pause: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Staff:
        return cls(frozenset(settings.admin_ids), settings.manager_chat_id, settings.timezone)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids

    def zone(self, fallback: tzinfo) -> tzinfo:
        """Where times are shown to managers: TIMEZONE, else ``fallback`` (the scenario's)."""
        return ZoneInfo(self.timezone) if self.timezone else fallback


def contact_allowed(consent: str | None, require_consent: bool) -> bool:
    """May managers see and use the lead's phone or e-mail?

    Yes when the lead agreed to be contacted, or when the scenario asks no consent and the
    lead shared the contact themselves (the bot stores only what the lead gave it) without
    having said no.
    """
    if consent == "given":
        return True
    return not require_consent and consent != "declined"


class HandoffTimeouts:
    """Gives leads back to the bot when managers kept them past ``handoff_timeout``.

    A periodic check rather than a scheduled touch: the timeout is read from the scenario in
    force, so a reload that changes it applies to leads already with managers, and Take
    (which cancels the lead's touches) needs no timer of its own. Run from the touch loop,
    at most every ``every`` seconds.
    """

    def __init__(
        self,
        service: FunnelService,
        channel_for: Callable[[Lead], Channel],
        every: float = 30.0,
    ) -> None:
        self.service = service
        self.channel_for = channel_for
        self.every = every
        self._next = 0.0

    async def __call__(self) -> int:
        """Release the overdue leads; returns how many went back to the bot."""
        timeout = self.service.scenario.funnel.scenario.handoff_timeout
        if timeout is None or time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.every
        cutoff = self.service.clock() - timeout
        async with self.service.db.session() as session:
            overdue = await LeadRepo(session).handed_off_before(cutoff)
        by = f"timeout ({Wait(span=timeout)} with managers)"
        released = 0
        for lead_id in overdue:
            done = await self.service.release(lead_id, by, self.channel_for)
            if done.done:
                released += 1
                log.info("lead %s: back to the bot after %s with managers", lead_id, timeout)
        return released
