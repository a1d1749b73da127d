"""What admins ask the bot for in a chat (/stats, /report, /lead, /export), as plain data.

The Telegram edge shows these; it never opens a session or builds a lead filter itself, so
``handlers/`` stays free of ``storage`` and a second face (the web dashboard) asks the same
functions. The numbers are ``bot.reports``' own, the same ``leadbot`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal

from bot.managers.staff import contact_allowed
from bot.reports.export import export
from bot.reports.leads import LeadCard, lead_card
from bot.reports.metrics import Stats, stats
from bot.reports.report import Report, build_report
from bot.service import FunnelService
from storage.criteria import LeadFilter

ExportKind = Literal["leads", "events"]


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
