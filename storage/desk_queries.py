"""Read-only queries the managers' desk (``bot.managers.desk``, shown by the web dashboard)
needs beyond the CLI's: a keyset-paged lead
table with text search, the inbox, and a lead's pending touches.

Keyset (created_at, id) paging instead of OFFSET: the next page starts where the last row
ended, so page 500 of a million leads costs what page 1 costs (the created_at index).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import LeadStatus, TouchState
from storage.criteria import LeadFilter
from storage.lead_search import matching
from storage.models import Event, Lead, ScheduledTouch
from storage.read_models import NEWEST_FIRST

COUNT_CAP = 10_000  # past this the table says "10000+": an exact count would scan everything


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last row's (created_at, id)."""

    created_at: datetime
    id: int


def _search(text: str) -> list[object]:
    return [matching(text)]


async def leads_after(
    session: AsyncSession, f: LeadFilter, search: str, after: Cursor | None, size: int
) -> Sequence[Lead]:
    """Up to ``size`` leads matching ``f`` and ``search``, newest first, after ``after``."""
    conds = [*f.conditions(), *(_search(search) if search.strip() else [])]
    if after is not None:
        conds.append(
            or_(
                Lead.created_at < after.created_at,
                and_(Lead.created_at == after.created_at, Lead.id < after.id),
            )
        )
    stmt = select(Lead).where(*conds).order_by(*NEWEST_FIRST).limit(size)  # type: ignore[arg-type]
    return (await session.execute(stmt)).scalars().all()


async def count_matching(session: AsyncSession, f: LeadFilter, search: str) -> int:
    """How many leads match, counted up to ``COUNT_CAP + 1``."""
    conds = [*f.conditions(), *(_search(search) if search.strip() else [])]
    inner = select(Lead.id).where(*conds).limit(COUNT_CAP + 1).subquery()  # type: ignore[arg-type]
    return int((await session.execute(select(func.count()).select_from(inner))).scalar_one())


async def waiting_leads(
    session: AsyncSession, hot_segments: Collection[str], size: int
) -> Sequence[Lead]:
    """Leads with managers, and active leads in a hot segment, most recently heard first."""
    waiting = Lead.status == LeadStatus.HANDED_OFF
    if hot_segments:
        waiting = or_(
            waiting, and_(Lead.status == LeadStatus.ACTIVE, Lead.segment.in_(hot_segments))
        )
    stmt = (
        select(Lead)
        .where(waiting)
        .order_by(func.coalesce(Lead.last_seen_at, Lead.created_at).desc(), Lead.id.desc())
        .limit(size)
    )
    return (await session.execute(stmt)).scalars().all()


async def latest_messages(
    session: AsyncSession, lead_ids: Collection[int], types: Collection[str], per_lead: int
) -> dict[int, list[Event]]:
    """The last ``per_lead`` events of ``types`` for each lead, oldest first.

    One small query per lead (an inbox page holds ~50): each walks (lead_id, id) backwards
    and stops after ``per_lead`` rows. A single windowed query lets SQLite choose the
    (type, created_at) index and scan every message ever received (~0.6 s at 1M events).
    """
    out: dict[int, list[Event]] = {}
    for lead_id in lead_ids:
        stmt = (
            select(Event)
            .where(Event.lead_id == lead_id, Event.type.in_(types))
            .order_by(Event.id.desc())
            .limit(per_lead)
        )
        found = list((await session.execute(stmt)).scalars())
        if found:
            out[lead_id] = found[::-1]
    return out


async def pending_touches(session: AsyncSession, lead_id: int) -> Sequence[ScheduledTouch]:
    stmt = (
        select(ScheduledTouch)
        .where(ScheduledTouch.lead_id == lead_id, ScheduledTouch.state == TouchState.PENDING)
        .order_by(ScheduledTouch.due_at)
    )
    return (await session.execute(stmt)).scalars().all()


async def newest_event_id(session: AsyncSession) -> int:
    """The lead log's newest event id (0 when empty): one primary-key look, whatever its size."""
    return int((await session.execute(select(func.max(Event.id)))).scalar_one() or 0)
