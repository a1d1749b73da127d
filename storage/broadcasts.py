"""Audiences and broadcasts: who a mailing reaches, and its queue in ``scheduled_touches``.

A broadcast's messages are ordinary touches (``kind = 'broadcast'``), so they share the
dispatcher, Telegram's limits, quiet hours and crash safety with the chains; a unique key on
(broadcast, lead) means nobody gets the same broadcast twice, whatever restarts happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import BROADCAST_PREFIX, BroadcastState, EventType
from storage.criteria import NEVER, LeadFilter
from storage.models import Broadcast, Event, Lead, ScheduledTouch

BROADCAST_STEP = "@broadcast"


@dataclass(frozen=True, slots=True)
class PaidTerms:
    """A paid broadcast's terms: its own rate (messages a second) and the Stars cap as the
    number of messages it pays for (Stars × 10, one message costing 0.1 Star)."""

    rate: float
    cap: int


@dataclass(frozen=True)
class Audience:
    """A filter over the lead log. Dates bound when the lead arrived."""

    segment: str | None = None
    stage: str | None = None
    status: str | None = None
    source: str | None = None
    channel: str | None = "telegram"
    joined_after: datetime | None = None
    joined_before: datetime | None = None
    stopped_at: tuple[str, ...] = ()
    idle_days: float | None = None
    variant: tuple[str, str] | None = None  # (step, variant)

    @property
    def criteria(self) -> LeadFilter:
        """The audience as the one lead-criteria object (arrival dates as since/until)."""
        return LeadFilter(
            segment=self.segment, stage=self.stage, status=self.status, source=self.source,
            channel=self.channel, since=self.joined_after, until=self.joined_before,
            stopped_at=self.stopped_at, idle_days=self.idle_days, variant=self.variant,
            reachable=True,
        )  # fmt: skip

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        return self.criteria.conditions(now)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if value in (None, ()):
                continue
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


async def count(session: AsyncSession, audience: Audience, now: datetime) -> int:
    stmt = select(func.count(Lead.id)).where(*audience.conditions(now))
    return int((await session.execute(stmt)).scalar_one())


async def create(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    message: dict[str, Any] | None,
    chain: str | None,
    audience: Audience,
    starts_at: datetime,
    created_by: str,
    now: datetime,
    rule: str | None = None,
    paid: PaidTerms | None = None,
) -> Broadcast:
    broadcast = Broadcast(
        rule=rule,
        name=name[:100],
        kind=kind,
        message=message,
        chain=chain,
        audience=audience.as_dict(),
        state="active",
        starts_at=starts_at,
        created_by=created_by[:64],
        created_at=now,
        paid=paid is not None,
        paid_rate=paid.rate if paid is not None else None,
        paid_cap=paid.cap if paid is not None else None,
        paid_spent=0,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def enqueue(
    session: AsyncSession, broadcast: Broadcast, audience: Audience, now: datetime
) -> int:
    """Queue the broadcast for every matching lead not queued for it yet; returns how many."""
    already = select(ScheduledTouch.id).where(
        ScheduledTouch.broadcast_id == broadcast.id, ScheduledTouch.lead_id == Lead.id
    )
    rows = select(
        Lead.id,
        literal(max(broadcast.starts_at, now)),
        literal(BROADCAST_STEP),
        literal(0),
        literal("broadcast"),
        literal("pending"),
        literal(0),
        literal(now),
        literal(broadcast.id),
    ).where(*audience.conditions(now), ~exists(already))
    stmt = insert(ScheduledTouch).from_select(
        [
            "lead_id",
            "due_at",
            "step",
            "token",
            "kind",
            "state",
            "attempts",
            "created_at",
            "broadcast_id",
        ],
        rows,
    )
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


async def by_rule(session: AsyncSession, rule: str) -> Broadcast | None:
    """The broadcast row of a win-back rule (unique: two processes cannot both create it)."""
    stmt = select(Broadcast).where(Broadcast.rule == rule)
    return (await session.execute(stmt)).scalar_one_or_none()


async def reserve_paid(session: AsyncSession, broadcast_id: int, messages: int) -> bool:
    """Count ``messages`` paid sends against the cap before they go; False (nothing counted)
    when that would take the spend over the cap. One conditional UPDATE: concurrent senders,
    in this process or another, can never reserve past the cap together."""
    result = await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.paid_cap.is_not(None),
            Broadcast.paid_spent + messages <= Broadcast.paid_cap,
        )
        .values(paid_spent=Broadcast.paid_spent + messages)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_paid(session: AsyncSession, broadcast_id: int, messages: int) -> None:
    """Give back reserved sends that did not go out (refused by Telegram, or not needed)."""
    spent = Broadcast.paid_spent
    left = case((spent >= messages, spent - messages), else_=0)
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id).values(paid_spent=left)
    )


async def stop(session: AsyncSession, broadcast_id: int, reason: str) -> bool:
    """The bot stops an active broadcast by itself (its copies wait, as when paused)."""
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.state == BroadcastState.ACTIVE)
        .values(state=BroadcastState.STOPPED, stop_reason=reason[:200])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_paid_cap(session: AsyncSession, broadcast_id: int, cap: int) -> None:
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id).values(paid_cap=cap)
    )


async def set_state(session: AsyncSession, broadcast_id: int, state: str, now: datetime) -> int:
    """Pause, resume or cancel; cancelling also drops the queued messages.

    Copies a dispatcher has claimed but not started are dropped too: it would only drop
    them itself when their turn comes, and meanwhile ``status`` would show them as queued.
    One already being sent (``sending``) is let through.
    """
    values: dict[str, Any] = {"state": state}
    if state == BroadcastState.ACTIVE:
        values["stop_reason"] = None
    await session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(**values))
    if state != "cancelled":
        return 0
    result = await session.execute(
        update(ScheduledTouch)
        .where(
            ScheduledTouch.broadcast_id == broadcast_id,
            ScheduledTouch.state.in_(("pending", "claimed")),
        )
        .values(state="cancelled", done_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass
class Progress:
    """Where a broadcast's copies stand. ``sent`` counts copies the queue finished; of those,
    ``skipped`` found the lead no longer reachable, ``blocked`` found the bot blocked and
    ``rejected`` were refused by Telegram, so ``delivered`` is what people actually got."""

    broadcast: Broadcast
    queued: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    blocked: int = 0
    rejected: int = 0
    states: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def done(self) -> bool:
        return self.queued == 0

    @property
    def delivered(self) -> int:
        return max(self.sent - self.skipped - self.blocked - self.rejected, 0)


def of_broadcast(broadcast_id: int) -> ColumnElement[bool]:
    """Events the engine logged for this broadcast (its id is in the payload)."""
    condition: ColumnElement[bool] = Event.payload["broadcast"].as_integer() == broadcast_id
    return condition


async def progress(session: AsyncSession, broadcast_id: int) -> Progress | None:
    broadcast = await get(session, broadcast_id)
    if broadcast is None:
        return None
    return (await progress_of(session, [broadcast]))[0]


async def progress_many(session: AsyncSession, limit: int = 50) -> list[Progress]:
    """The newest ``limit`` broadcasts with their progress (a fixed number of queries)."""
    return await progress_of(session, list(await list_all(session, limit)))


async def progress_of(session: AsyncSession, rows: Sequence[Broadcast]) -> list[Progress]:
    """Progress of these broadcasts: four grouped queries, however many broadcasts."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    touch = ScheduledTouch
    states: dict[int, dict[str, int]] = {i: {} for i in ids}
    by_state = (
        select(touch.broadcast_id, touch.state, func.count())
        .where(touch.broadcast_id.in_(ids))
        .group_by(touch.broadcast_id, touch.state)
    )
    for bid, state, n in await session.execute(by_state):
        states[int(bid or 0)][str(state)] = int(n)
    payload_id = Event.payload["broadcast"].as_integer()
    skipped = (
        select(payload_id, func.count(Event.id))
        .where(Event.type == EventType.BROADCAST_SKIPPED, payload_id.in_(ids))
        .group_by(payload_id)
    )
    # Blocked while this broadcast's copy was being sent (Telegram answered 403); a lead has
    # one copy per broadcast, so each event joins at most one touch of a broadcast.
    blocked = (
        select(touch.broadcast_id, func.count(Event.id))
        .join(touch, touch.lead_id == Event.lead_id)
        .where(
            Event.type == EventType.BLOCKED,
            touch.broadcast_id.in_(ids),
            touch.state == "sent",
            Event.created_at >= touch.created_at,
            Event.created_at <= touch.done_at,
        )
        .group_by(touch.broadcast_id)
    )
    steps = {f"{BROADCAST_PREFIX}{i}": i for i in ids}
    rejected_rows = await session.execute(
        select(Event.step, func.count(func.distinct(Event.lead_id)))
        .where(Event.type == EventType.ERROR, Event.step.in_(list(steps)))
        .group_by(Event.step)
    )
    skips = {int(b): int(n) for b, n in await session.execute(skipped) if b is not None}
    blocks = {int(b or 0): int(n) for b, n in await session.execute(blocked)}
    rejects = {steps[str(step)]: int(n) for step, n in rejected_rows}
    out = []
    for row in rows:
        st = states[row.id]
        out.append(
            Progress(
                row,
                queued=st.get("pending", 0) + st.get("claimed", 0) + st.get("sending", 0),
                sent=st.get("sent", 0),
                failed=st.get("unknown", 0),
                cancelled=st.get("cancelled", 0),
                skipped=skips.get(row.id, 0),
                blocked=blocks.get(row.id, 0),
                rejected=rejects.get(row.id, 0),
                states=st,
            )
        )
    return out


async def list_all(session: AsyncSession, limit: int = 50) -> Sequence[Broadcast]:
    stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def grant_paid(session: AsyncSession, wants: dict[int, int]) -> dict[int, int]:
    """For the paid ones of these broadcasts, count up to ``wants[id]`` messages against
    the cap (as many as fit); returns how many each got. Non-paid ones are left out.

    Meant for the transaction that claims their copies: the rows are locked (PostgreSQL) or
    the database is (SQLite holds its write lock after the claim), so no one else counts
    between the read and the write.
    """
    stmt = (
        select(Broadcast.id, Broadcast.paid_spent, Broadcast.paid_cap)
        .where(Broadcast.id.in_(list(wants)), Broadcast.paid.is_(True))
        .with_for_update()
    )
    grants: dict[int, int] = {}
    for bid, spent, cap in (await session.execute(stmt)).all():
        grants[bid] = granted = max(0, min(wants[bid], (cap or 0) - spent))
        if granted:
            await session.execute(
                update(Broadcast)
                .where(Broadcast.id == bid)
                .values(paid_spent=Broadcast.paid_spent + granted)
            )
    return grants


def runnable() -> ColumnElement[bool]:
    """Touches the dispatcher may send: chain touches, and messages of active broadcasts."""
    active = select(Broadcast.id).where(Broadcast.state == "active")
    return ScheduledTouch.broadcast_id.is_(None) | ScheduledTouch.broadcast_id.in_(active)


__all__ = ["NEVER", "Audience", "PaidTerms", "Progress"]
