"""Repositories: every query the application makes, in one place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, Event, Lead, Order, ScheduledTouch

PENDING = "pending"
CLAIMED = "claimed"
SENDING = "sending"


class LeadRepo:
    """Leads, their answers and their events, within one session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_update(self, channel: str, user_id: int) -> Lead | None:
        """Fetch a lead, locking its row on databases that can (serialises its updates)."""
        stmt = select(Lead).where(Lead.channel == channel, Lead.user_id == user_id)
        stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_or_create(self, channel: str, user_id: int, now: datetime) -> Lead:
        lead = await self.get_for_update(channel, user_id)
        if lead is not None:
            return lead
        try:
            async with self.session.begin_nested():
                lead = Lead(
                    channel=channel,
                    user_id=user_id,
                    created_at=now,
                    updated_at=now,
                    flags=[],
                    state={},
                )
                self.session.add(lead)
        except IntegrityError:
            # Another process created it between our select and insert.
            lead = await self.get_for_update(channel, user_id)
            assert lead is not None
        return lead

    async def by_id(self, lead_id: int) -> Lead | None:
        return await self.session.get(Lead, lead_id)

    async def by_username(self, username: str) -> Lead | None:
        stmt = select(Lead).where(func.lower(Lead.username) == username.lower().lstrip("@"))
        return (await self.session.execute(stmt.limit(1))).scalar_one_or_none()

    async def save_answer(
        self, lead_id: int, key: str, question: str, value: str, now: datetime
    ) -> None:
        stmt = select(Answer).where(Answer.lead_id == lead_id, Answer.key == key)
        existing = (await self.session.execute(stmt)).scalar_one_or_none()
        if existing is None:
            self.session.add(
                Answer(lead_id=lead_id, key=key, question=question, answer=value, created_at=now)
            )
        else:
            existing.question, existing.answer, existing.created_at = question, value, now

    async def answers(self, lead_id: int) -> Sequence[Answer]:
        stmt = select(Answer).where(Answer.lead_id == lead_id).order_by(Answer.id)
        return (await self.session.execute(stmt)).scalars().all()

    def add_events(
        self,
        lead_id: int,
        events: Iterable[tuple[str, str | None, dict[str, Any]]],
        now: datetime,
        version: str | None = None,
    ) -> None:
        self.session.add_all(
            Event(
                lead_id=lead_id,
                type=type_,
                step=step,
                payload=payload,
                created_at=now,
                scenario_version=version,
                variant=str(payload["variant"])[:16] if payload.get("variant") else None,
            )
            for type_, step, payload in events
        )

    def add_order(
        self,
        lead_id: int,
        step: str,
        tier: str,
        title: str,
        amount: Decimal,
        currency: str,
        charge_id: str,
        now: datetime,
    ) -> None:
        self.session.add(
            Order(
                lead_id=lead_id,
                offer_step=step,
                tier=tier,
                title=title[:200],
                amount=amount,
                currency=currency,
                charge_id=charge_id[:128],
                paid_at=now,
            )
        )

    async def events(self, lead_id: int) -> Sequence[Event]:
        stmt = select(Event).where(Event.lead_id == lead_id).order_by(Event.id)
        return (await self.session.execute(stmt)).scalars().all()

    async def handed_off_before(self, cutoff: datetime, limit: int = 100) -> list[int]:
        """Leads still with managers whose latest hand-off or Take is older than ``cutoff``."""
        last = (
            select(Event.lead_id, func.max(Event.created_at).label("at"))
            .where(
                Event.type.in_(("handed_off", "taken")),
                Event.lead_id.in_(select(Lead.id).where(Lead.status == "handed_off")),
            )
            .group_by(Event.lead_id)
            .subquery()
        )
        stmt = (
            select(Lead.id)
            .join(last, last.c.lead_id == Lead.id)
            .where(Lead.status == "handed_off", last.c.at < cutoff)
            .order_by(last.c.at)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars().all())


class TouchRepo:
    """The scheduled-touches queue."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def schedule(
        self,
        lead_id: int,
        due: datetime,
        step: str,
        token: int,
        now: datetime,
        kind: str = "touch",
    ) -> None:
        self.session.add(
            ScheduledTouch(
                lead_id=lead_id,
                due_at=due,
                step=step,
                token=token,
                kind=kind,
                state=PENDING,
                attempts=0,
                created_at=now,
            )
        )

    async def cancel_pending(self, lead_id: int, now: datetime) -> int:
        """Cancel the lead's chain timers (a queued broadcast stays: it checks at send time)."""
        stmt = (
            update(ScheduledTouch)
            .where(
                ScheduledTouch.lead_id == lead_id,
                ScheduledTouch.state == PENDING,
                ScheduledTouch.broadcast_id.is_(None),
            )
            .values(state="cancelled", done_at=now)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def claim_due(
        self, now: datetime, limit: int, worker: str, lease: timedelta, channel: str | None = None
    ) -> tuple[list[ScheduledTouch], list[ScheduledTouch]]:
        """Claim due touches so no one else runs them.

        Returns (to run, in doubt): a touch claimed by a process that died before it ran is
        simply run again; one that died while sending may or may not have reached the
        prospect, so it is marked ``unknown`` instead of being sent twice.
        """
        from storage.broadcasts import runnable

        # Two index range scans on (state, due_at) rather than one OR that defeats the index:
        # the claim must cost the same with ten thousand or a million rows waiting.
        key = (ScheduledTouch.id, ScheduledTouch.state)
        due = (
            select(*key)
            .where(ScheduledTouch.state == PENDING, ScheduledTouch.due_at <= now, runnable())
            .order_by(ScheduledTouch.due_at)
            .with_for_update(skip_locked=True)
        )
        abandoned = (
            select(*key)
            .where(ScheduledTouch.state.in_([CLAIMED, SENDING]), ScheduledTouch.lease_until <= now)
            .order_by(ScheduledTouch.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if channel is not None:
            # Each face sends its own leads' touches (the simulator's never go to Telegram).
            mine = exists(
                select(Lead.id).where(Lead.id == ScheduledTouch.lead_id, Lead.channel == channel)
            )
            due, abandoned = due.where(mine), abandoned.where(mine)
        rows = list((await self.session.execute(abandoned)).all())
        if len(rows) < limit:
            rows += (await self.session.execute(due.limit(limit - len(rows)))).all()
        to_run = [touch_id for touch_id, state in rows if state != SENDING]
        in_doubt = [touch_id for touch_id, state in rows if state == SENDING]
        # One UPDATE … RETURNING per kind instead of a statement per row.
        run = await self._set(
            to_run,
            state=CLAIMED,
            claimed_by=worker,
            lease_until=now + lease,
            attempts=ScheduledTouch.attempts + 1,
        )
        doubt = await self._set(in_doubt, state="unknown", done_at=now, lease_until=None)
        return run, doubt

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

    async def mark_sending(self, touch_id: int) -> None:
        await self.session.execute(
            update(ScheduledTouch).where(ScheduledTouch.id == touch_id).values(state=SENDING)
        )

    async def postpone(self, touch_id: int, due: datetime) -> None:
        await self.session.execute(
            update(ScheduledTouch)
            .where(ScheduledTouch.id == touch_id)
            .values(state=PENDING, due_at=due, lease_until=None, claimed_by=None)
        )

    async def next_pending(self, lead_id: int) -> ScheduledTouch | None:
        stmt = (
            select(ScheduledTouch)
            .where(ScheduledTouch.lead_id == lead_id, ScheduledTouch.state == PENDING)
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
    """Erasing a person from the lead log while keeping its anonymous shape for statistics."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def erase(self, lead: Lead, keep_answers: set[tuple[str, str]], now: datetime) -> None:
        """Blank personal fields, free-text answers and payloads; cancel touches.

        ``keep_answers``: (key, value) pairs that are button choices, not personal text.
        The Telegram id is replaced by a negative number no real account has, so the
        record can never be joined back to the person.
        """
        lead.user_id = -lead.id
        lead.first_name = lead.last_name = lead.username = ""
        lead.phone = lead.email = lead.summary = None
        lead.state = {**(lead.state or {}), "draft": ""}
        for answer in await LeadRepo(self.session).answers(lead.id):
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
                event.type == "answer_given"
                and (str(payload.get("key")), str(payload.get("value", "")).casefold())
                in keep_answers
            ):
                continue
            scrubbed = {k: (ERASED if k in PERSONAL_PAYLOAD else v) for k, v in payload.items()}
            if scrubbed != payload:
                event.payload = scrubbed
        await TouchRepo(self.session).cancel_pending(lead.id, now)

    async def quiet_since(self, cutoff: datetime, limit: int = 500) -> Sequence[Lead]:
        """Leads not heard from since ``cutoff`` whose personal data is still there."""
        stmt = (
            select(Lead)
            .where(Lead.user_id > 0, func.coalesce(Lead.last_seen_at, Lead.created_at) < cutoff)
            .order_by(Lead.id)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()
