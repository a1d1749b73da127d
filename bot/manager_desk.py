"""What the managers' dashboard reads and does beyond the CLI: the paged lead table, the
inbox, pending touches, and a message written by a manager.

Thin on purpose: the SQL is in ``storage/web_queries.py``, Take/Return/forget are the
service's own; a manager's message goes through the same ``Channel`` (and so the same
outgoing limiter) as the bot's, and is logged as a ``manager_message`` event.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.engine.types import OutMessage
from bot.reports.leads import LeadRow, lead_row
from bot.scenario.funnel import Funnel
from bot.service import Channel, FunnelService, RecipientGone, SendRejected
from storage.db import Database
from storage.models import Lead
from storage.queries import LeadFilter
from storage.repo import LeadRepo
from storage.web_queries import (
    COUNT_CAP,
    Cursor,
    count_matching,
    latest_messages,
    leads_after,
    pending_touches,
    waiting_leads,
)

log = logging.getLogger(__name__)

MANAGER_MESSAGE = "manager_message"
CONVERSATION = ("message_received", "replied", MANAGER_MESSAGE)
MAX_TEXT = 4096


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
    who = {"message_received": "lead", MANAGER_MESSAGE: "manager"}.get(type_, "bot")
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
    channel_for: Callable[[Lead], Channel],
) -> str:
    """Send ``text`` to the lead as written (no markup); returns "sent" or why not."""
    text = text.strip()
    if not text:
        return "empty"
    if len(text) > MAX_TEXT:
        return "too_long"
    async with service.db.session() as session:
        lead = await LeadRepo(session).by_id(lead_id)
        if lead is None:
            return "missing"
        if lead.status in {"blocked", "unsubscribed"}:
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
            lead_id, [(MANAGER_MESSAGE, None, payload)], now, service.scenario.funnel.version
        )
    return "sent"
