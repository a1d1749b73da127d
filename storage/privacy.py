"""Erasing a person from the lead log while keeping its anonymous shape for statistics.

Same style as ``storage.leads``: one repository class on a caller's session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.types import halted_private
from bot.vocabulary import EventType, LeadStatus
from storage.leads import LeadRepo
from storage.models import Event, Lead
from storage.touches import TouchRepo

ERASED = "[erased]"
# Event payload fields that can hold what a person typed or the model said about them.
PERSONAL_PAYLOAD = (
    "text",
    "value",
    "summary",
    "reason",
    "pains",
    "bant",
    "username",
    "phone",
    "email",
    "name",
)


class PrivacyRepo:
    """Erasing a person from the lead log while keeping its anonymous shape for statistics.

    ``keep_answers``: (key, value) pairs that are button choices, not personal text.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def erase_lead(
        self,
        lead_id: int,
        keep_answers: set[tuple[str, str]],
        now: datetime,
        reason: str,
        version: str,
    ) -> bool:
        """Erase one lead by id; False when there is no such lead."""
        lead = await self.session.get(Lead, lead_id)
        if lead is None:
            return False
        await self._erase(lead, keep_answers, now, reason, version)
        return True

    async def erase_user(
        self,
        channel: str,
        user_id: int,
        keep_answers: set[tuple[str, str]],
        now: datetime,
        reason: str,
        version: str,
    ) -> int | None:
        """Erase the lead of one account (row locked); its id, or None when there is none."""
        lead = await LeadRepo(self.session).get_for_update(channel, user_id)
        if lead is None:
            return None
        lead_id = lead.id
        await self._erase(lead, keep_answers, now, reason, version)
        return lead_id

    async def erase_quiet(
        self,
        cutoff: datetime,
        keep_answers: set[tuple[str, str]],
        now: datetime,
        reason: str,
        version: str,
        limit: int = 500,
    ) -> int:
        """Erase up to ``limit`` leads not heard from since ``cutoff``; returns how many."""
        stmt = (
            select(Lead)
            .where(Lead.user_id > 0, func.coalesce(Lead.last_seen_at, Lead.created_at) < cutoff)
            .order_by(Lead.id)
            .limit(limit)
        )
        leads: Sequence[Lead] = (await self.session.execute(stmt)).scalars().all()
        for lead in leads:
            await self._erase(lead, keep_answers, now, reason, version)
        return len(leads)

    async def _erase(
        self,
        lead: Lead,
        keep_answers: set[tuple[str, str]],
        now: datetime,
        reason: str,
        version: str,
    ) -> None:
        """Blank personal fields, free-text answers and payloads; cancel touches; log it.

        The Telegram id is replaced by a negative number no real account has, so the
        record can never be joined back to the person.
        """
        lead.user_id = -lead.id
        lead.first_name = lead.last_name = lead.username = ""
        lead.phone = lead.email = lead.summary = None
        lead.status = str(LeadStatus.UNSUBSCRIBED)
        lead.state = dict(halted_private(lead.state, forget_waiting=True))
        repo = LeadRepo(self.session)
        for answer in await repo.answers(lead.id):
            if (answer.key, answer.answer.casefold()) not in keep_answers:
                answer.answer = ERASED
        events = (
            (await self.session.execute(select(Event).where(Event.lead_id == lead.id)))
            .scalars()
            .all()
        )
        for event in events:
            payload = dict(event.payload or {})
            if (
                event.type == EventType.ANSWER_GIVEN
                and (str(payload.get("key")), str(payload.get("value", "")).casefold())
                in keep_answers
            ):
                continue
            scrubbed = {k: (ERASED if k in PERSONAL_PAYLOAD else v) for k, v in payload.items()}
            if scrubbed != payload:
                event.payload = scrubbed
        await TouchRepo(self.session).cancel_pending(lead.id, now)
        repo.add_events(lead.id, [(EventType.FORGOTTEN, None, {"reason": reason})], now, version)
