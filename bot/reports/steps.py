"""The funnel by step: how many leads reached each step of each chain, and where they stop.

A lead *reached* a step when any event was logged at it (a message sent, a question asked,
an offer shown, a wait scheduled...). A lead *dropped* at a step when that is its current
step and it has not completed the funnel (still waiting, unsubscribed, blocked, or with a
manager). Steps are listed in scenario order; ``goto`` steps log nothing and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.reports.leads import LeadRow, lead_row
from bot.reports.metrics import Cohort, label
from bot.scenario.funnel import INTERVIEW, Funnel
from bot.vocabulary import EventType
from storage.criteria import LeadFilter
from storage.db import Database
from storage.read_models import stopped_at

SILENT_KINDS = frozenset({"goto"})
WIN_BACK_STATUSES = ("active", "completed")


@dataclass(frozen=True, slots=True)
class StepCount:
    reached: int
    dropped: int
    from_previous: float | None  # reached / reached at the previous listed step
    from_start: float | None  # reached / leads who entered the chain


@dataclass(frozen=True, slots=True)
class StepStat:
    step: str
    kind: str
    total: StepCount
    by_source: dict[str, StepCount] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FunnelSection:
    """One chain: the interview (every lead) or one segment's warming chain (its leads)."""

    chain: str
    segment: str | None
    title: str
    entered: int
    entered_by_source: dict[str, int]
    steps: list[StepStat]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def funnel_sections(
    cohort: Cohort, funnel: Funnel, sources: list[str], segment: str | None = None
) -> list[FunnelSection]:
    """The interview, then each segment's chain (only ``segment``'s when given)."""
    started: dict[str, int] = {}
    for e in cohort.events:
        if e.type == EventType.STARTED:
            started[label(e.source)] = started.get(label(e.source), 0) + e.leads
    sections = [_section(cohort, funnel, INTERVIEW, None, "Interview", started, sources)]
    for seg_id, seg in funnel.scenario.segments.items():
        if segment is not None and seg_id != segment:
            continue
        entered: dict[str, int] = {}
        for g in cohort.leads:
            if g.segment == seg_id:
                entered[label(g.source)] = entered.get(label(g.source), 0) + g.leads
        chain = funnel.chain_of(seg_id)
        sections.append(_section(cohort, funnel, chain, seg_id, seg.title, entered, sources))
    return sections


def _section(
    cohort: Cohort,
    funnel: Funnel,
    chain: str,
    segment: str | None,
    title: str,
    entered: dict[str, int],
    sources: list[str],
) -> FunnelSection:
    def mine(seg: str | None) -> bool:
        return segment is None or seg == segment

    reached: dict[tuple[str, str], int] = {}
    for s in cohort.steps:
        if mine(s.segment):
            key = (s.step, label(s.source))
            reached[key] = reached.get(key, 0) + s.leads
    dropped: dict[tuple[str, str], int] = {}
    for g in cohort.leads:
        if mine(g.segment) and g.step is not None and g.status != "completed":
            key = (g.step, label(g.source))
            dropped[key] = dropped.get(key, 0) + g.leads

    previous = {src: entered.get(src, 0) for src in sources}
    prev_total = sum(entered.values())
    stats = []
    for step_id in funnel.chains.get(chain, []):
        kind = funnel.steps[step_id].step.kind
        if kind in SILENT_KINDS:
            continue
        by_source = {}
        for src in sources:
            n = reached.get((step_id, src), 0)
            by_source[src] = StepCount(
                n,
                dropped.get((step_id, src), 0),
                _ratio(n, previous[src]),
                _ratio(n, entered.get(src, 0)),
            )
            previous[src] = n
        total_n = sum(c.reached for c in by_source.values())
        total = StepCount(
            total_n,
            sum(c.dropped for c in by_source.values()),
            _ratio(total_n, prev_total),
            _ratio(total_n, sum(entered.values())),
        )
        prev_total = total_n
        stats.append(StepStat(step_id, kind, total, by_source))
    return FunnelSection(chain, segment, title, sum(entered.values()), entered, stats)


@dataclass(frozen=True, slots=True)
class DroppedLead:
    lead: LeadRow
    last_event_at: datetime | None
    idle: timedelta | None


async def dropped_at(db: Database, f: LeadFilter, step: str, now: datetime) -> list[DroppedLead]:
    """Leads stopped at ``step`` who can still be won back (active, or completed there),
    longest silent first."""
    async with db.session() as session:
        rows = await stopped_at(session, f, step, WIN_BACK_STATUSES)
        return [
            DroppedLead(lead_row(lead), at, now - at if at is not None else None)
            for lead, at in rows
        ]
