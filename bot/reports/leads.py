"""The lead table and one lead's card: plain data the CLI and the admin commands both show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.reports.describe import describe
from bot.vocabulary import EventType
from storage.criteria import LeadFilter
from storage.db import Database
from storage.leads import LeadRepo
from storage.models import Event, Lead
from storage.read_models import count_leads, leads_page


@dataclass(frozen=True, slots=True)
class LeadRow:
    id: int
    created_at: datetime
    name: str
    username: str
    channel: str
    source: str | None
    segment: str | None
    stage: str
    status: str
    step: str | None
    phone: str | None
    email: str | None
    flags: tuple[str, ...]

    @property
    def has_contact(self) -> bool:
        return bool(self.phone or self.email)

    @property
    def who(self) -> str:
        """``Ann Smith (@ann)``, whichever parts exist, or the user id as a last resort."""
        handle = f"@{self.username}" if self.username else ""
        if self.name and handle:
            return f"{self.name} ({handle})"
        return self.name or handle or f"#{self.id}"


def lead_row(lead: Lead) -> LeadRow:
    return LeadRow(
        id=lead.id,
        created_at=lead.created_at,
        name=full_name(lead.first_name, lead.last_name),
        username=lead.username,
        channel=lead.channel,
        source=lead.source,
        segment=lead.segment,
        stage=lead.stage,
        status=lead.status,
        step=lead.step,
        phone=lead.phone,
        email=lead.email,
        flags=tuple(lead.flags or ()),
    )


def full_name(first: str | None, last: str | None) -> str:
    return " ".join(x for x in (first, last) if x)


@dataclass(frozen=True, slots=True)
class LeadPage:
    rows: list[LeadRow]
    total: int  # all leads matching the filter, however many are shown


async def list_leads(db: Database, f: LeadFilter) -> LeadPage:
    """Leads matching the filter, newest first (``f.limit`` of them), and how many match."""
    async with db.session() as session:
        rows = [lead_row(lead) for lead in await leads_page(session, f)]
        total = len(rows)
        if f.limit is not None and total == f.limit:
            total = await count_leads(session, replace(f, limit=None))
        return LeadPage(rows, total)


@dataclass(frozen=True, slots=True)
class AnswerLine:
    key: str
    question: str
    answer: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Classification:
    """The latest ``classified`` event: what the model (or the offline scorer) decided and why."""

    segment: str
    confidence: int | None
    readiness: str | None
    reason: str
    path: str | None
    flags: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    id: int
    at: datetime
    type: str
    step: str | None
    text: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LeadCard:
    lead: LeadRow
    user_id: int
    language: str
    readiness: str | None
    score: int | None
    summary: str | None
    last_seen_at: datetime | None
    answers: list[AnswerLine] = field(default_factory=list)
    classification: Classification | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    consent: str | None = None  # "given" or "declined": may managers use the contact?


def parse_ref(ref: str) -> int | str:
    """``42`` or ``#42`` is an id; ``@ann`` (or ``ann``) is a Telegram username."""
    text = ref.strip().lstrip("#")
    return int(text) if text.isdigit() else text.lstrip("@")


async def lead_card(db: Database, ref: str, tz: tzinfo = UTC) -> LeadCard | None:
    """Everything known about one lead, or ``None`` when there is no such lead."""
    key = parse_ref(ref)
    async with db.session() as session:
        repo = LeadRepo(session)
        lead = await (repo.by_id(key) if isinstance(key, int) else repo.by_username(key))
        if lead is None:
            return None
        answers = await repo.answers(lead.id)
        events = await repo.events(lead.id)
        return LeadCard(
            lead=lead_row(lead),
            user_id=lead.user_id,
            language=lead.language,
            readiness=lead.readiness,
            score=lead.score,
            summary=lead.summary,
            last_seen_at=lead.last_seen_at,
            answers=[AnswerLine(a.key, a.question, a.answer, a.created_at) for a in answers],
            classification=latest_classification(events),
            timeline=[timeline_entry(e, tz) for e in events],
            consent=lead.consent,
        )


def timeline_entry(event: Event, tz: tzinfo = UTC) -> TimelineEntry:
    payload = dict(event.payload or {})
    text = describe(event.type, payload, tz)
    return TimelineEntry(event.id, event.created_at, event.type, event.step, text, payload)


def latest_classification(events: Sequence[Event]) -> Classification | None:
    for event in reversed(events):
        if event.type != EventType.CLASSIFIED:
            continue
        p = event.payload or {}
        confidence = p.get("confidence")
        return Classification(
            segment=str(p.get("segment", "")),
            confidence=int(confidence) if isinstance(confidence, int | float) else None,
            readiness=p.get("readiness"),
            reason=str(p.get("reason", "")),
            path=p.get("path"),
            flags=tuple(p.get("flags") or ()),
            at=event.created_at,
        )
    return None
