"""The scenario's win-back rules, run by the bot on its own while it is up.

A chore of the touch loop rather than a scheduled touch: the rules are read from the
scenario in force, so a reload that adds or changes a rule applies at the next run, and
``run_winback`` itself makes sure each lead gets a rule once, however often it runs and
however many bot processes share the database.
"""

from __future__ import annotations

import logging

from bot.broadcasts.service import run_winback
from bot.managers.chores import Periodic
from bot.service import FunnelService

log = logging.getLogger(__name__)

EVERY = 300.0  # seconds; "no reaction for 3 days" does not need more precision


def winback_chore(service: FunnelService, every: float = EVERY) -> Periodic[dict[str, int]]:
    """Queue win-back chains for leads that match a rule now, at most every ``every`` s."""

    async def job() -> dict[str, int]:
        funnel = service.scenario.funnel
        if not funnel.scenario.winback:
            return {}
        queued = await run_winback(service.db, funnel, service.clock())
        if any(queued.values()):
            log.info("win-back queued: %s", ", ".join(f"{k} {v}" for k, v in queued.items()))
        return queued

    return Periodic("win-back", job, every)
