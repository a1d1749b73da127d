"""Read-only queries about audiences and what a broadcast caused, for operators' screens.

A broadcast's own events carry its id in the payload (``broadcast_sent``, ``button_pressed``,
``broadcast_skipped``), so reach and presses are exact; what leads did afterwards is read
from their events after the broadcast reached them and sorted out by the caller.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import EventType
from storage.broadcasts import Audience, of_broadcast
from storage.models import Event, Lead


@dataclass(frozen=True, slots=True)
class SampleRow:
    lead: Lead
    last_activity: datetime | None


async def audience_sample(
    session: AsyncSession, audience: Audience, now: datetime, size: int = 10
) -> list[SampleRow]:
    """A few matching leads, newest first, each with the time of its latest event."""
    last = (
        select(func.max(Event.created_at))
        .where(Event.lead_id == Lead.id)
        .correlate(Lead)
        .scalar_subquery()
    )
    stmt = select(Lead, last).where(*audience.conditions(now)).order_by(Lead.id.desc()).limit(size)
    rows = (await session.execute(stmt)).all()
    return [SampleRow(lead, _aware(at)) for lead, at in rows]


def _aware(value: datetime | str | None) -> datetime | None:
    """``max()`` over a column loses its type on SQLite; read it back as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True, slots=True)
class Reached:
    lead_id: int
    event_id: int
    at: datetime


async def reached(session: AsyncSession, broadcast_id: int) -> list[Reached]:
    """Every lead the broadcast reached, with its ``broadcast_sent`` event (first one)."""
    stmt = (
        select(Event.lead_id, func.min(Event.id), func.min(Event.created_at))
        .where(Event.type == EventType.BROADCAST_SENT, of_broadcast(broadcast_id))
        .group_by(Event.lead_id)
    )
    rows = (await session.execute(stmt)).all()
    return [Reached(int(lead), int(eid), _aware(at) or datetime.now(UTC)) for lead, eid, at in rows]


async def count_of_type(session: AsyncSession, broadcast_id: int, type_: str) -> int:
    stmt = select(func.count(Event.id)).where(Event.type == type_, of_broadcast(broadcast_id))
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True, slots=True)
class LaterEvent:
    id: int
    lead_id: int
    type: str
    step: str | None
    at: datetime
    broadcast: int | None


async def events_after(
    session: AsyncSession,
    broadcast_id: int,
    types: Collection[str],
    after_id: int,
    before: datetime,
) -> Sequence[LaterEvent]:
    """Events of these types by leads the broadcast reached, newer than ``after_id`` and
    older than ``before`` (the caller narrows each lead to its own window)."""
    reached_leads = select(Event.lead_id).where(
        Event.type == EventType.BROADCAST_SENT, of_broadcast(broadcast_id)
    )
    stmt = (
        select(Event.id, Event.lead_id, Event.type, Event.step, Event.created_at, Event.payload)
        .where(
            Event.lead_id.in_(reached_leads),
            Event.type.in_(list(types)),
            Event.id > after_id,
            Event.created_at < before,
        )
        .order_by(Event.id)
    )
    out = []
    for eid, lead, type_, step, at, payload in await session.execute(stmt):
        mark = (payload or {}).get("broadcast")
        broadcast = mark if isinstance(mark, int) else None
        out.append(LaterEvent(int(eid), int(lead), str(type_), step, at, broadcast))
    return out
