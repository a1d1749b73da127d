"""Personal data: erasure on request (/forget, ``leadbot forget``), retention, safe logs.

What stays after erasure is an anonymous record (segment, stage, source, steps and their
times), so the funnel's statistics do not change when someone asks to be forgotten.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.redact import redact
from bot.scenario.funnel import Funnel
from bot.scenario.model import QuestionStep
from storage.db import Database
from storage.privacy import PrivacyRepo

log = logging.getLogger(__name__)


def button_answers(funnel: Funnel) -> set[tuple[str, str]]:
    """(answer key, value) pairs chosen by buttons: these say nothing personal."""
    pairs: set[tuple[str, str]] = set()
    for placed in funnel.steps.values():
        step = placed.step
        if isinstance(step, QuestionStep):
            key = step.key or placed.id
            pairs |= {(key, option.stored.casefold()) for option in step.options}
    return pairs


async def forget_lead(
    db: Database, funnel: Funnel, lead_id: int, now: datetime, reason: str
) -> bool:
    """Erase one lead's personal data; False when there is no such lead."""
    async with db.session() as session, session.begin():
        found = await PrivacyRepo(session).erase_lead(
            lead_id, button_answers(funnel), now, reason, funnel.version
        )
    if found:
        await db.scrub()
        log.info("lead %s: personal data erased (%s)", lead_id, reason)
    return found


async def forget_user(
    db: Database, funnel: Funnel, channel: str, user_id: int, now: datetime
) -> bool:
    async with db.session() as session, session.begin():
        lead_id = await PrivacyRepo(session).erase_user(
            channel, user_id, button_answers(funnel), now, "asked by the prospect", funnel.version
        )
    if lead_id is None:
        return False
    await db.scrub()
    log.info("lead %s: personal data erased at the prospect's request", lead_id)
    return True


async def prune(db: Database, funnel: Funnel, now: datetime, keep: timedelta) -> int:
    """Erase the personal data of leads quiet for longer than ``keep``; returns how many."""
    total = 0
    reason = f"retention: quiet for {keep.days} days"
    while True:
        async with db.session() as session, session.begin():
            erased = await PrivacyRepo(session).erase_quiet(
                now - keep, button_answers(funnel), now, reason, funnel.version
            )
        total += erased
        if not erased:
            if total:
                await db.scrub()
            return total


class RedactingFilter(logging.Filter):
    """Defence in depth: mask phones, e-mails and the like in any log line at INFO and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            message = record.getMessage()
            masked = redact(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True
