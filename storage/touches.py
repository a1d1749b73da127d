"""The scheduled-touches queue: chain timers and mailing messages, claimed under a lease.

Same style as ``storage.leads``: one repository class on a caller's session. The claim
hands back ``ScheduledTouch`` rows for storage's own tests and for the service, which turns
them into its plain ``Due`` records at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import RESUME_KIND, TouchState
from storage.broadcasts import runnable
from storage.models import Lead, ScheduledTouch
from storage.unit_statements import CANCEL_PENDING


def in_flight(session: AsyncSession) -> ColumnElement[bool]:
    """``state IN ('claimed', 'sending')``: the few touches being worked on right now.

    On SQLite it is wrapped in ``unlikely()`` (a planner hint, free at run time). With
    ANALYZE statistics SQLite knows only how many rows share a state on average, and almost
    every row is pending, done or cancelled, so it priced this IN above a full scan and
    scanned scheduled_touches on every touch-loop tick (7-9 ms at 100k rows in benchmark 5,
    instead of ~0.2 ms through the (state, due_at) index). PostgreSQL keeps per-value
    statistics and picks the index by itself.
    """
    condition = ScheduledTouch.state.in_([TouchState.CLAIMED, TouchState.SENDING])
    if session.get_bind().dialect.name == "sqlite":
        return func.unlikely(condition)
    return condition


class TouchRepo:
    """The scheduled-touches queue."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cancel_pending(self, lead_id: int, now: datetime) -> int:
        """Cancel the lead's chain timers (a queued broadcast stays: it checks at send time)."""
        result = await self.session.execute(CANCEL_PENDING, {"of_lead": lead_id, "at": now})
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        worker: str,
        lease: timedelta,
        channel: str | tuple[str, ...] | None = None,
    ) -> tuple[list[ScheduledTouch], list[ScheduledTouch]]:
        """Claim due touches so no one else runs them.

        Returns (to run, in doubt): a touch claimed by a process that died before it ran is
        simply run again; one that died while sending may or may not have reached the
        prospect, so it is marked ``unknown`` instead of being sent twice.
        """
        # Two index range scans on (state, due_at) rather than one OR that defeats the index:
        # the claim must cost the same with ten thousand or a million rows waiting.
        key = (ScheduledTouch.id, ScheduledTouch.state, ScheduledTouch.kind)
        due = (
            select(*key)
            .where(
                ScheduledTouch.state == TouchState.PENDING, ScheduledTouch.due_at <= now, runnable()
            )
            .order_by(ScheduledTouch.due_at)
            .with_for_update(skip_locked=True)
        )
        abandoned = (
            select(*key)
            .where(in_flight(self.session), ScheduledTouch.lease_until <= now)
            .order_by(ScheduledTouch.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if channel is not None:
            # Each face sends its own leads' touches (the simulator's never go to Telegram).
            names = (channel,) if isinstance(channel, str) else channel
            mine = exists(
                select(Lead.id).where(Lead.id == ScheduledTouch.lead_id, Lead.channel.in_(names))
            )
            due, abandoned = due.where(mine), abandoned.where(mine)
        rows = list((await self.session.execute(abandoned)).all())
        if len(rows) < limit:
            rows += (await self.session.execute(due.limit(limit - len(rows)))).all()
        # A resume touch cut off mid-way sent nothing of its own: it simply runs again.
        doubt = {
            t for t, state, kind in rows if state == TouchState.SENDING and kind != RESUME_KIND
        }
        to_run = [touch_id for touch_id, _, _ in rows if touch_id not in doubt]
        in_doubt = [touch_id for touch_id, _, _ in rows if touch_id in doubt]
        # One UPDATE … RETURNING per kind instead of a statement per row.
        run = await self._set(
            to_run,
            state=TouchState.CLAIMED,
            claimed_by=worker,
            lease_until=now + lease,
            attempts=ScheduledTouch.attempts + 1,
        )
        unknown = await self._set(in_doubt, state=TouchState.UNKNOWN, done_at=now, lease_until=None)
        return run, unknown

    async def _set(self, ids: list[int], **values: object) -> list[ScheduledTouch]:
        if not ids:
            return []
        stmt = (
            update(ScheduledTouch)
            .where(ScheduledTouch.id.in_(ids))
            .values(**values)
            .returning(ScheduledTouch)
            .execution_options(populate_existing=True)
        )
        touches = list((await self.session.execute(stmt)).scalars().all())
        return sorted(touches, key=lambda t: (t.due_at, t.id))

    async def settle_failed(self, touch_id: int, now: datetime, retry: timedelta) -> bool:
        """After a touch raised: ``sending`` becomes ``unknown`` (True), ``claimed`` is due
        again after ``retry``."""
        doubt = await self.session.execute(
            update(ScheduledTouch)
            .where(ScheduledTouch.id == touch_id, ScheduledTouch.state == TouchState.SENDING)
            .values(state=TouchState.UNKNOWN, done_at=now, lease_until=None)
        )
        if doubt.rowcount:  # type: ignore[attr-defined]
            return True
        await self.session.execute(
            update(ScheduledTouch)
            .where(ScheduledTouch.id == touch_id, ScheduledTouch.state == TouchState.CLAIMED)
            .values(state=TouchState.PENDING, due_at=now + retry, lease_until=None, claimed_by=None)
        )
        return False

    async def postpone(self, touch_id: int, due: datetime) -> None:
        await self.session.execute(
            update(ScheduledTouch)
            .where(ScheduledTouch.id == touch_id)
            .values(state=TouchState.PENDING, due_at=due, lease_until=None, claimed_by=None)
        )

    async def next_pending(self, lead_id: int) -> ScheduledTouch | None:
        stmt = (
            select(ScheduledTouch)
            .where(ScheduledTouch.lead_id == lead_id, ScheduledTouch.state == TouchState.PENDING)
            .order_by(ScheduledTouch.due_at)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def finish(self, touch_id: int, state: str, now: datetime) -> None:
        await self.session.execute(
            update(ScheduledTouch)
            .where(ScheduledTouch.id == touch_id)
            .values(state=state, done_at=now, lease_until=None)
        )

    async def make_due(self, touch_id: int, now: datetime) -> None:
        await self.session.execute(
            update(ScheduledTouch).where(ScheduledTouch.id == touch_id).values(due_at=now)
        )
