"""Read-only queries for the knowledge-base report: the questions prospects asked.

A ``question`` event holds the pick (entry or none) but only the length of the text; the words
are in the ``message_received`` event logged just before it for the same lead, which is
erased with the lead's other data when they ask to be forgotten.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import EventType
from storage.models import Event
from storage.privacy import ERASED

BATCH = 500


class AskedQuestion(NamedTuple):
    """One question: the entry that answered it (None: none did), its text when still kept."""

    entry: str | None
    text: str | None
    path: str


async def asked_questions(
    session: AsyncSession, since: datetime | None = None, until: datetime | None = None
) -> AsyncIterator[AskedQuestion]:
    """Every ``question`` event in the period with the words of the message it answered."""
    stmt = select(Event.lead_id, Event.type, Event.payload).where(
        Event.type.in_((EventType.QUESTION, EventType.MESSAGE_RECEIVED))
    )
    if since is not None:
        stmt = stmt.where(Event.created_at >= since)
    if until is not None:
        stmt = stmt.where(Event.created_at < until)
    stmt = stmt.order_by(Event.lead_id, Event.id).execution_options(yield_per=BATCH)
    last_text: dict[int, str] = {}
    async for lead_id, type_, payload in await session.stream(stmt):
        data: dict[str, Any] = payload or {}
        if type_ == EventType.MESSAGE_RECEIVED:
            text = data.get("text")
            if isinstance(text, str) and text != ERASED:
                last_text[lead_id] = text
            else:
                last_text.pop(lead_id, None)
            continue
        entry = data.get("entry")
        yield AskedQuestion(
            entry if isinstance(entry, str) else None,
            last_text.pop(lead_id, None),
            str(data.get("path") or ""),
        )
