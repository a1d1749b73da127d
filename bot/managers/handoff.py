"""Leads managers forgot: given back to the bot once ``handoff_timeout`` has passed.

A periodic check rather than a scheduled touch: the timeout is read from the scenario in
force, so a reload that changes it applies to leads already with managers, and Take (which
cancels the lead's touches) needs no timer of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.managers.chores import Periodic
from bot.service import Channel, FunnelService
from bot.time_phrases import Wait
from storage.leads import LeadRecord, LeadRepo

log = logging.getLogger(__name__)

CHECK_EVERY = 30.0  # seconds; a time-out is hours long


class HandoffTimeouts:
    """Releases the leads managers kept past the scenario's ``handoff_timeout``."""

    def __init__(
        self, service: FunnelService, channel_for: Callable[[LeadRecord], Channel]
    ) -> None:
        self.service = service
        self.channel_for = channel_for

    async def release_overdue(self) -> int:
        """Release the overdue leads; returns how many went back to the bot."""
        timeout = self.service.scenario.funnel.scenario.handoff_timeout
        if timeout is None:
            return 0
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


def handoff_chore(
    service: FunnelService, channel_for: Callable[[LeadRecord], Channel], every: float = CHECK_EVERY
) -> Periodic[int]:
    """The time-out check as a chore of the touch loop, at most every ``every`` seconds."""
    return Periodic(
        "hand-off time-outs", HandoffTimeouts(service, channel_for).release_overdue, every
    )
