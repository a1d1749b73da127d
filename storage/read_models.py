"""Read models for managers' reports: lead lists, exports and funnel counts (read-only).

Everything here only reads. Counts are grouped in SQL (by source, segment, step...) so a
report costs a handful of queries whatever the number of leads; exports stream rows.
Each lead has one source and one segment, so grouped counts of *distinct leads* can be
summed over sources or segments by the caller without double counting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, Text, case, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.vocabulary import EventType
from storage.criteria import LeadFilter, dropped_here
from storage.models import Answer, Event, Lead, Subscription

T = TypeVar("T")
STREAM_BATCH = 500
EVENT_BATCH = 5000  # rows per await of an event export (one thread hop on SQLite)


NEWEST_FIRST = (Lead.created_at.desc(), Lead.id.desc())

# --- lead lists and exports --------------------------------------------------------------


async def leads_page(session: AsyncSession, f: LeadFilter) -> Sequence[Lead]:
    """Leads matching ``f``, newest first, at most ``f.limit``."""
    stmt = select(Lead).where(*f.conditions()).order_by(*NEWEST_FIRST)
    if f.limit is not None:
        stmt = stmt.limit(f.limit)
    return (await session.execute(stmt)).scalars().all()


async def count_leads(session: AsyncSession, f: LeadFilter) -> int:
    stmt = select(func.count()).select_from(Lead).where(*f.conditions())
    total = int((await session.execute(stmt)).scalar_one())
    return min(total, f.limit) if f.limit is not None else total


LEAD_COLUMNS = (
    Lead.id,
    Lead.created_at,
    Lead.channel,
    Lead.user_id,
    Lead.first_name,
    Lead.last_name,
    Lead.username,
    Lead.language,
    Lead.source,
    Lead.segment,
    Lead.readiness,
    Lead.score,
    Lead.stage,
    Lead.status,
    Lead.step,
    Lead.phone,
    Lead.email,
    Lead.flags,
    Lead.summary,
    Lead.last_seen_at,
)


async def stream_leads(
    session: AsyncSession, f: LeadFilter
) -> AsyncIterator[tuple[dict[str, Any], dict[str, str]]]:
    """Yield (lead columns, {answer key: answer}) newest first, holding one batch at a time.

    One joined query ordered by lead, grouped here, so answers cost no extra round trips.
    """
    conds = f.conditions()
    if f.limit is not None:
        chosen = select(Lead.id).where(*conds).order_by(*NEWEST_FIRST).limit(f.limit)
        conds = [Lead.id.in_(chosen.scalar_subquery())]
    stmt = (
        select(*LEAD_COLUMNS, Answer.key.label("answer_key"), Answer.answer.label("answer_value"))
        .outerjoin(Answer, Answer.lead_id == Lead.id)
        .where(*conds)
        .order_by(*NEWEST_FIRST, Answer.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    current: dict[str, Any] | None = None
    answers: dict[str, str] = {}
    result = await session.stream(stmt)
    # A batch per await, not a row: each ``async for`` step on an async result is a greenlet
    # switch into the driver's thread, which cost more than the row itself.
    async for batch in result.partitions():
        for row in batch:
            data = row._mapping
            if current is None or current["id"] != data["id"]:
                if current is not None:
                    yield current, answers
                current = {c.key: data[c.key] for c in LEAD_COLUMNS}
                answers = {}
            if data["answer_key"] is not None:
                answers[data["answer_key"]] = data["answer_value"]
    if current is not None:
        yield current, answers


def _events_stmt(f: LeadFilter, raw_for: str | None = None) -> Select[Any]:
    """The event rows of ``f``; with ``raw_for`` (a dialect name) ``created_at`` comes as
    UTC text ``YYYY-MM-DD HH:MM:SS`` and ``payload`` as its JSON text, no Python objects."""
    created: Any = Event.created_at
    payload: Any = Event.payload
    if raw_for is not None:
        created = (
            func.substr(cast(Event.created_at, Text), 1, 19)
            if raw_for == "sqlite"
            else func.to_char(func.timezone("UTC", Event.created_at), "YYYY-MM-DD HH24:MI:SS")
        ).label("created_at")
        payload = cast(Event.payload, Text).label("payload")
    return (
        select(
            Event.id,
            created,
            Event.lead_id,
            Lead.first_name,
            Lead.username,
            Lead.source,
            Lead.segment,
            Event.type,
            Event.step,
            payload,
        )
        .join(Lead, Lead.id == Event.lead_id)
        .where(*f.conditions(dated=False), *f.event_dates())
    )


async def count_events(session: AsyncSession, f: LeadFilter) -> int:
    stmt = select(func.count()).select_from(_events_stmt(f).subquery())
    total = int((await session.execute(stmt)).scalar_one())
    return min(total, f.limit) if f.limit is not None else total


async def stream_event_batches(
    session: AsyncSession, f: LeadFilter, batch: int | None = None
) -> AsyncIterator[Sequence[Any]]:
    """Events of the matching leads (dated by the event), oldest first, a batch of plain
    Core rows per await: (id, created_at, lead_id, first_name, username, source, segment,
    type, step, payload), ``created_at`` as UTC text (``YYYY-MM-DD HH:MM:SS``) and
    ``payload`` as its JSON text.

    Streamed by the driver (a server-side cursor on PostgreSQL, ``fetchmany`` on SQLite),
    so memory holds one batch whatever the log's size. Nothing is turned into Python
    datetimes or dicts here: an export converts each distinct minute and payload once.
    """
    stmt = _events_stmt(f, raw_for=session.get_bind().dialect.name)
    stmt = stmt.order_by(Event.id).execution_options(yield_per=batch or EVENT_BATCH)
    if f.limit is not None:
        stmt = stmt.limit(f.limit)
    conn = await session.connection()
    result = await conn.stream(stmt)
    async for rows in read_ahead(result.partitions()):
        yield rows


class _Failed(NamedTuple):
    error: Exception


_END = object()


async def read_ahead(batches: AsyncIterator[T], depth: int = 2) -> AsyncGenerator[T]:
    """``batches``, with the next one fetched while the caller works on this one: the
    database (SQLite's thread, PostgreSQL's server process) produces rows on the other core
    instead of waiting for the caller to ask.

    Closed early (the caller failed), it lets a fetch under way finish, then stops: a
    database call cancelled halfway would cost the connection.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(depth)
    stopping = asyncio.Event()

    async def produce() -> None:
        try:
            async for batch in batches:
                if stopping.is_set():
                    break
                await queue.put(batch)
        except Exception as exc:  # handed to the caller, raised there
            await queue.put(_Failed(exc))
        else:
            await queue.put(_END)
        finally:
            close = getattr(batches, "aclose", None)
            if close is not None:
                await close()

    task = asyncio.create_task(produce())
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stopping.set()
        while not task.done():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()  # room for a batch the reader is handing over
            await asyncio.wait([task], timeout=0.05)


# --- grouped counts for the funnel report -------------------------------------------------


class LeadGroup(NamedTuple):
    source: str | None
    segment: str | None
    stage: str
    status: str
    step: str | None
    leads: int


class EventGroup(NamedTuple):
    source: str | None
    segment: str | None
    type: str
    tier: str | None
    leads: int


class StepGroup(NamedTuple):
    source: str | None
    segment: str | None
    step: str
    leads: int


class OrderRow(NamedTuple):
    lead_id: int
    source: str | None
    segment: str | None
    payload: dict[str, Any]


class SubscriptionRow(NamedTuple):
    source: str | None
    segment: str | None
    state: str
    amount: Decimal
    currency: str


async def lead_groups(session: AsyncSession, f: LeadFilter) -> list[LeadGroup]:
    """How many leads of the cohort stand at each (source, segment, stage, status, step)."""
    keys = (Lead.source, Lead.segment, Lead.stage, Lead.status, Lead.step)
    stmt = select(*keys, func.count()).where(*f.conditions()).group_by(*keys)
    return [LeadGroup(*row) for row in await session.execute(stmt)]


async def event_groups(
    session: AsyncSession, f: LeadFilter, types: Collection[str], by_tier: bool = False
) -> list[EventGroup]:
    """Distinct leads of the cohort with each event type (and offer tier), at any time."""
    tier = Event.payload["tier"].as_string() if by_tier else None
    keys: list[Any] = [Lead.source, Lead.segment, Event.type]
    if tier is not None:
        keys.append(tier)
    stmt = (
        select(*keys, func.count(func.distinct(Event.lead_id)))
        .join(Lead, Lead.id == Event.lead_id)
        .where(Event.type.in_(list(types)), *f.conditions())
        .group_by(*keys)
    )
    rows = (tuple(row) for row in await session.execute(stmt))
    if by_tier:
        return [EventGroup(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    return [EventGroup(r[0], r[1], r[2], None, r[3]) for r in rows]


async def step_groups(session: AsyncSession, f: LeadFilter) -> list[StepGroup]:
    """Distinct leads of the cohort with any event at each step: who reached it."""
    keys = (Lead.source, Lead.segment, Event.step)
    stmt = (
        select(*keys, func.count(func.distinct(Event.lead_id)))
        .join(Lead, Lead.id == Event.lead_id)
        .where(Event.step.is_not(None), *f.conditions())
        .group_by(*keys)
    )
    return [StepGroup(src, seg, str(step), n) for src, seg, step, n in await session.execute(stmt)]


async def order_rows(session: AsyncSession, f: LeadFilter, order_type: str) -> list[OrderRow]:
    """Every order event of the cohort (few per lead), for summing money exactly in Python.

    Unordered on purpose: sums do not care, and ``ORDER BY events.id`` tempts SQLite into
    walking the whole log in id order instead of the (type, created_at) index."""
    stmt = (
        select(Event.lead_id, Lead.source, Lead.segment, Event.payload)
        .join(Lead, Lead.id == Event.lead_id)
        .where(Event.type == order_type, *f.conditions())
    )
    return [OrderRow(*row) for row in await session.execute(stmt)]


async def subscription_rows(session: AsyncSession, f: LeadFilter) -> list[SubscriptionRow]:
    """Every Stars subscription the cohort's leads bought, as it stands now (few per lead)."""
    stmt = (
        select(
            Lead.source,
            Lead.segment,
            Subscription.state,
            Subscription.amount,
            Subscription.currency,
        )
        .join(Lead, Lead.id == Subscription.lead_id)
        .where(*f.conditions())
        .order_by(Subscription.id)
    )
    return [SubscriptionRow(*row) for row in await session.execute(stmt)]


async def dropped_groups(session: AsyncSession, f: LeadFilter) -> list[StepGroup]:
    """How many leads of the cohort dropped at each step (``criteria.dropped_here``)."""
    keys = (Lead.source, Lead.segment, Lead.step)
    stmt = select(*keys, func.count()).where(*dropped_here(), *f.conditions()).group_by(*keys)
    return [StepGroup(src, seg, str(step), n) for src, seg, step, n in await session.execute(stmt)]


async def dropped_leads(
    session: AsyncSession, f: LeadFilter, step: str
) -> list[tuple[Lead, datetime | None]]:
    """Leads who dropped at ``step`` (``criteria.dropped_here``), with their last event's
    time, longest idle first."""
    last = (
        select(Event.created_at)
        .where(Event.lead_id == Lead.id)
        .order_by(Event.id.desc())
        .limit(1)
        .correlate(Lead)
        .scalar_subquery()
    )
    stmt = (
        select(Lead, last.label("last_event_at"))
        .where(Lead.step == step, *dropped_here(), *f.conditions())
        .order_by(last.asc().nulls_first(), Lead.id)
    )
    if f.limit is not None:
        stmt = stmt.limit(f.limit)
    return [(lead, at) for lead, at in await session.execute(stmt)]


__all__ = [
    "EventGroup",
    "LeadGroup",
    "OrderRow",
    "StepGroup",
    "SubscriptionRow",
    "count_events",
    "count_leads",
    "dropped_groups",
    "dropped_leads",
    "event_groups",
    "lead_groups",
    "leads_page",
    "order_rows",
    "step_groups",
    "stream_event_batches",
    "stream_leads",
    "subscription_rows",
]


# What a prospect does (as opposed to what the bot sends).
REACTIONS = (
    EventType.OFFER_CLICKED,
    EventType.BUTTON_PRESSED,
    EventType.ANSWER_GIVEN,
    EventType.CONTACT_SHARED,
    EventType.REPLIED,
    EventType.MESSAGE_RECEIVED,
    EventType.ORDER_PAID,
)


async def variant_counts(
    session: AsyncSession, step: str, f: LeadFilter
) -> dict[str, tuple[int, int]]:
    """For each variant of ``step``: (leads of the cohort shown it, those of them who did
    something themselves (``REACTIONS``) after first seeing it).

    Counted in the database in one query: a list of every exposed lead would be tens of
    thousands of bound parameters (more than SQLite or asyncpg take) at scale.
    """
    first = (
        select(
            Event.lead_id.label("lead_id"),
            Event.variant.label("variant"),
            func.min(Event.id).label("first_id"),
        )
        .join(Lead, Lead.id == Event.lead_id)
        .where(Event.step == step, Event.variant.is_not(None), *f.conditions())
        .where(Event.type.in_([EventType.STEP_SENT, EventType.OFFER_SHOWN]))
        .group_by(Event.lead_id, Event.variant)
        .subquery()
    )
    later = aliased(Event)
    reacted = exists().where(
        later.lead_id == first.c.lead_id, later.id > first.c.first_id, later.type.in_(REACTIONS)
    )
    stmt = select(first.c.variant, func.count(), func.sum(case((reacted, 1), else_=0))).group_by(
        first.c.variant
    )
    return {
        str(variant): (int(shown), int(moved or 0))
        for variant, shown, moved in await session.execute(stmt)
    }
