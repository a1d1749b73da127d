"""What managers ask for and do, as plain data: the Telegram admin commands (/stats,
/report, /lead, /export) and the web dashboard (the paged lead table, the inbox, pending
touches, a message written by a manager).

The faces show these; they never open a session or build SQL themselves, so ``handlers/``
and ``web/`` stay free of ``storage`` and both ask the same functions. The numbers are
``bot.reports``' own, the same ``leadbot`` prints. A manager's message goes through the
same ``Channel`` (and so the same outgoing limiter) as the bot's, and is logged as a
``manager_message`` event.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Literal

from bot.engine.types import OutMessage
from bot.managers.staff import contact_allowed
from bot.reports.export import export
from bot.reports.leads import LeadCard, LeadRow, lead_card, lead_row
from bot.reports.metrics import Stats, stats
from bot.reports.report import Report, build_report
from bot.reports.spend import Spend
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, RecipientGone, SendRejected
from bot.service.ports import ChannelFor
from bot.vocabulary import EventType, LeadStatus
from storage.criteria import LeadFilter
from storage.db import Database
from storage.desk_queries import (
    COUNT_CAP,
    count_matching,
    latest_messages,
    leads_after,
    newest_event_id,
    pending_touches,
    waiting_leads,
)
from storage.desk_queries import (
    Cursor as Cursor,  # re-exported: a page of the lead table ends at one
)
from storage.leads import LeadRepo
from storage.spend import all_spend, set_spend

log = logging.getLogger(__name__)

ExportKind = Literal["leads", "events"]
CONVERSATION = (EventType.MESSAGE_RECEIVED, EventType.REPLIED, EventType.MANAGER_MESSAGE)
MAX_TEXT = 4096  # Telegram's limit for one message


@dataclass(frozen=True, slots=True)
class CardView:
    """A lead's card and whether managers may use the contact on it."""

    card: LeadCard
    contact_allowed: bool


async def channel_stats(service: FunnelService, channel: str, tz: tzinfo) -> Stats:
    """New leads, qualified, contacts and segments of one channel: today, 7 and 30 days."""
    return await stats(service.db, service.clock(), service.scenario.funnel, tz, channel=channel)


async def channel_report(service: FunnelService, channel: str, since: datetime) -> Report:
    """The funnel by step for the channel's leads who arrived since ``since``."""
    f = LeadFilter(channel=channel, since=since)
    return await build_report(service.db, service.scenario.funnel, f, service.clock())


async def card(service: FunnelService, ref: str, tz: tzinfo) -> CardView | None:
    """One lead by id or @username; None when there is no such lead."""
    found = await lead_card(service.db, ref, tz)
    if found is None:
        return None
    allowed = contact_allowed(found.consent, service.scenario.funnel.scenario.require_consent)
    return CardView(found, allowed)


async def export_csv(
    service: FunnelService, kind: ExportKind, channel: str, path: Path, tz: tzinfo
) -> int:
    """The channel's leads (with their answers) or events as CSV at ``path``; the row count."""
    funnel = service.scenario.funnel
    keys = list(funnel.answer_keys()) if kind == "leads" else []
    return await export(service.db, kind, LeadFilter(channel=channel), path, "csv", tz, keys)


# --- the web dashboard's desk ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TablePage:
    rows: list[LeadRow]
    total: int  # capped at COUNT_CAP + 1
    next: Cursor | None

    @property
    def total_text(self) -> str:
        return f"{COUNT_CAP}+" if self.total > COUNT_CAP else str(self.total)


async def table_page(
    db: Database, f: LeadFilter, search: str, after: Cursor | None, size: int = 50
) -> TablePage:
    async with db.session() as session:
        leads = list(await leads_after(session, f, search, after, size + 1))
        total = await count_matching(session, f, search)
    more = len(leads) > size
    rows = [lead_row(lead) for lead in leads[:size]]
    cursor = Cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return TablePage(rows, total, cursor)


@dataclass(frozen=True, slots=True)
class Line:
    at: datetime
    who: str  # "lead", "bot" or "manager"
    text: str


@dataclass(frozen=True, slots=True)
class InboxItem:
    lead: LeadRow
    last_seen_at: datetime | None
    lines: list[Line]


def _line(type_: str, payload: dict[str, object], at: datetime) -> Line:
    who = {EventType.MESSAGE_RECEIVED: "lead", EventType.MANAGER_MESSAGE: "manager"}.get(
        EventType(type_), "bot"
    )
    return Line(at, who, str(payload.get("text", "")))


async def inbox(db: Database, funnel: Funnel, size: int = 50, per_lead: int = 3) -> list[InboxItem]:
    """Handed-off leads and hot ones waiting for contact, with their latest messages."""
    hot = [name for name, seg in funnel.scenario.segments.items() if seg.hot]
    async with db.session() as session:
        leads = list(await waiting_leads(session, hot, size))
        talk = await latest_messages(session, [x.id for x in leads], CONVERSATION, per_lead)
    return [
        InboxItem(
            lead_row(lead),
            lead.last_seen_at,
            [_line(e.type, dict(e.payload or {}), e.created_at) for e in talk.get(lead.id, [])],
        )
        for lead in leads
    ]


async def inbox_mark(db: Database) -> int:
    """Changes whenever anything is logged: the inbox stream's cue to re-read the inbox."""
    async with db.session() as session:
        return await newest_event_id(session)


async def saved_spend(db: Database) -> dict[str, Spend]:
    """Spend per source entered on the dashboard: what its funnel page divides by."""
    async with db.session() as session:
        found = await all_spend(session)
    return {source: Spend(amount, currency) for source, (amount, currency) in found.items()}


async def save_spend(service: FunnelService, entered: dict[str, Spend | None], by: str) -> None:
    """Store typed or uploaded spend per source (None or zero removes a source's)."""
    now = service.clock()
    async with service.db.session() as session, session.begin():
        for source, spend in entered.items():
            amount = spend.amount if spend is not None else Decimal(0)
            currency = spend.currency if spend is not None else ""
            await set_spend(session, source, amount, currency, by, now)


@dataclass(frozen=True, slots=True)
class Pending:
    due_at: datetime
    step: str
    kind: str


async def pending(db: Database, lead_id: int) -> list[Pending]:
    async with db.session() as session:
        return [Pending(t.due_at, t.step, t.kind) for t in await pending_touches(session, lead_id)]


async def send_as_manager(
    service: FunnelService,
    lead_id: int,
    text: str,
    by: str,
    manager_id: int,
    channel_for: ChannelFor,
) -> str:
    """Send ``text`` to the lead as written (no markup); returns "sent" or why not."""
    text = text.strip()
    if not text:
        return "empty"
    if len(text) > MAX_TEXT:
        return "too_long"
    async with service.db.session() as session:
        lead = await LeadRepo(session).record(lead_id)
        if lead is None:
            return "missing"
        if lead.status in {LeadStatus.BLOCKED, LeadStatus.UNSUBSCRIBED}:
            return lead.status
        channel = channel_for(lead)
    try:
        await channel.send(OutMessage(text=html.escape(text, quote=False), priority="reply"))
    except RecipientGone:
        return "blocked"
    except SendRejected as exc:
        log.warning("lead %s: a manager's message was refused: %s", lead_id, exc)
        return "rejected"
    now = service.clock()
    async with service.db.session() as session, session.begin():
        payload = {"text": text, "by": by, "manager_id": manager_id}
        LeadRepo(session).add_events(
            lead_id,
            [(EventType.MANAGER_MESSAGE, None, payload)],
            now,
            service.scenario.funnel.version,
        )
    return "sent"
