"""The lead aggregate: the lead row with its answers, events (the lead log) and orders.

Style of every ``storage`` module: one repository class per aggregate, built on an
``AsyncSession`` whose transaction the caller owns. Services get plain data out of a
repository: frozen dataclasses (``LeadRecord``) or the engine's ``LeadState``, never an
ORM row. Row-level methods (``get_or_create``, ``get_for_update``, ``by_id``) hand ORM rows
to code inside ``storage`` and to read-models that render a row, and say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.types import LeadState, halted_private
from bot.vocabulary import EventType, LeadStatus, Stage
from storage.models import Answer, Event, Lead, search_text

EventRow = tuple[str, str | None, dict[str, Any]]  # (type, step, payload)

LEADS: Table = Lead.__table__  # type: ignore[assignment]  # declarative tables are Tables
ANSWERS: Table = Answer.__table__  # type: ignore[assignment]
EVENTS: Table = Event.__table__  # type: ignore[assignment]


class LeadRace(Exception):
    """Another process created this lead between our read and our insert: run again."""


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """A lead as services and faces see it: who it is and where it stands (no bookkeeping)."""

    id: int
    channel: str
    user_id: int
    first_name: str
    last_name: str
    username: str
    language: str
    source: str | None
    segment: str | None
    stage: str
    status: str
    step: str | None


def record_of(lead: Lead) -> LeadRecord:
    return LeadRecord(
        id=lead.id,
        channel=lead.channel,
        user_id=lead.user_id,
        first_name=lead.first_name,
        last_name=lead.last_name,
        username=lead.username,
        language=lead.language,
        source=lead.source,
        segment=lead.segment,
        stage=lead.stage,
        status=lead.status,
        step=lead.step,
    )


def state_from_row(lead: Lead | Row[Any], answers: dict[str, str]) -> LeadState:
    """The engine's view of a stored lead (the bookkeeping JSON read by its codec)."""
    state = LeadState(
        first_name=lead.first_name,
        last_name=lead.last_name,
        username=lead.username,
        language=lead.language,
        source=lead.source,
        segment=lead.segment,
        readiness=lead.readiness,
        confidence=lead.score,
        summary=lead.summary,
        stage=Stage(lead.stage),
        status=LeadStatus(lead.status),
        step=lead.step,
        phone=lead.phone,
        email=lead.email,
        answers=answers,
        flags=list(lead.flags or []),
        consent=lead.consent,
        consent_version=lead.consent_version,
        consent_at=lead.consent_at,
    )
    state.load_private(lead.state)
    return state


def state_values(state: LeadState, now: datetime, version: str) -> dict[str, Any]:
    """The engine's state as the row's column values (the bookkeeping JSON by its codec)."""
    first, last, username = state.first_name[:256], state.last_name[:256], state.username[:64]
    return {
        "first_name": first,
        "last_name": last,
        "username": username,
        "language": state.language[:16],
        "source": state.source,
        "segment": state.segment,
        "readiness": state.readiness,
        "score": state.confidence,
        "summary": state.summary,
        "stage": str(state.stage),  # plain strings in the row, whatever the enum
        "status": str(state.status),
        "step": state.step,
        "phone": state.phone,
        "email": state.email,
        "search": search_text(first, last, username, state.phone, state.email),
        "flags": list(state.flags),
        "consent": state.consent,
        "consent_version": state.consent_version,
        "consent_at": state.consent_at,
        "state": dict(state.private()),
        "scenario_version": version,
        "updated_at": now,
        "last_seen_at": now,
    }


def event_values(
    lead_id: int, events: Iterable[EventRow], now: datetime, version: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "lead_id": lead_id,
            "type": str(type_),
            "step": step,
            "payload": payload,
            "created_at": now,
            "scenario_version": version,
            "variant": str(payload["variant"])[:16] if payload.get("variant") else None,
        }
        for type_, step, payload in events
    ]


class LeadRepo:
    """Leads, their answers, events and orders, within one session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- plain data for the services (the update's own reads and writes: ``storage.unit``)

    async def record(self, lead_id: int) -> LeadRecord | None:
        lead = await self.by_id(lead_id)
        return record_of(lead) if lead is not None else None

    async def record_for_update(self, channel: str, user_id: int) -> LeadRecord | None:
        lead = await self.get_for_update(channel, user_id)
        return record_of(lead) if lead is not None else None

    async def hand_to_managers(self, lead_id: int, now: datetime) -> LeadState:
        """A manager took the lead: no timer, no half-typed answer; returns its state."""
        lead = await self.session.get(Lead, lead_id)
        assert lead is not None
        lead.status = str(LeadStatus.HANDED_OFF)
        lead.state = dict(halted_private(lead.state, taken=True))
        lead.updated_at = now
        return state_from_row(lead, {})

    # --- rows (inside storage, and read-models) ------------------------------------------

    async def get_for_update(self, channel: str, user_id: int) -> Lead | None:
        """Fetch a lead row, locking it on databases that can (serialises its updates)."""
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

    # --- answers, events, orders ----------------------------------------------------------

    async def answers(self, lead_id: int) -> Sequence[Answer]:
        stmt = select(Answer).where(Answer.lead_id == lead_id).order_by(Answer.id)
        return (await self.session.execute(stmt)).scalars().all()

    async def insert_for_each(
        self, lead_ids: Sequence[int], event: EventRow, now: datetime, version: str | None = None
    ) -> None:
        """The same event in the log of each of ``lead_ids``, in one INSERT."""
        rows = [row for lead_id in lead_ids for row in event_values(lead_id, [event], now, version)]
        if rows:
            await self.session.execute(insert(EVENTS).values(rows))

    def add_events(
        self,
        lead_id: int,
        events: Iterable[EventRow],
        now: datetime,
        version: str | None = None,
    ) -> None:
        self.session.add_all(
            Event(
                lead_id=lead_id,
                type=str(type_),
                step=step,
                payload=payload,
                created_at=now,
                scenario_version=version,
                variant=str(payload["variant"])[:16] if payload.get("variant") else None,
            )
            for type_, step, payload in events
        )

    async def events(self, lead_id: int) -> Sequence[Event]:
        stmt = select(Event).where(Event.lead_id == lead_id).order_by(Event.id)
        return (await self.session.execute(stmt)).scalars().all()

    async def handed_off_before(self, cutoff: datetime, limit: int = 100) -> list[int]:
        """Leads still with managers whose latest hand-off, Take or manager's message (a
        business owner writing in their own chat, say) is older than ``cutoff``."""
        last = (
            select(Event.lead_id, func.max(Event.created_at).label("at"))
            .where(
                Event.type.in_((EventType.HANDED_OFF, EventType.TAKEN, EventType.MANAGER_MESSAGE)),
                Event.lead_id.in_(select(Lead.id).where(Lead.status == LeadStatus.HANDED_OFF)),
            )
            .group_by(Event.lead_id)
            .subquery()
        )
        stmt = (
            select(Lead.id)
            .join(last, last.c.lead_id == Lead.id)
            .where(Lead.status == LeadStatus.HANDED_OFF, last.c.at < cutoff)
            .order_by(last.c.at)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars().all())
