"""The funnel by step: how many leads reached each step of each chain, and where they stop.

A lead *reached* a step when any event was logged at it (a message sent, a question asked,
an offer shown, a wait scheduled...). A lead *dropped* at a step when it stopped there and
nothing is scheduled for it (``storage.criteria.dropped_here``: not completed, not with a
manager, no touch pending), the same leads ``leadbot report --dropped STEP`` lists. "Of
previous" follows the path leads take (the scenario's graph: next, buttons, branches,
timeouts), not the file's order: a step's reach over that of the busiest step leading into
it. Steps are listed in scenario order; ``goto`` steps log nothing and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.operator.graph import edges
from bot.reports.leads import LeadRow, lead_row
from bot.reports.metrics import Cohort, label
from bot.scenario.funnel import INTERVIEW, Funnel
from bot.vocabulary import EventType
from storage.criteria import LeadFilter
from storage.db import Database
from storage.read_models import dropped_leads

SILENT_KINDS = frozenset({"goto"})


@dataclass(frozen=True, slots=True)
class StepCount:
    reached: int
    dropped: int
    from_previous: float | None  # reached / reached at the busiest step leading here
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


def feeders(funnel: Funnel, chain: str) -> dict[str, list[str]]:
    """For each step of ``chain``, the listed steps of the chain that lead into it.

    A ``goto`` logs nothing, so it is looked through: its own feeders feed its target.
    """
    ids = set(funnel.chains.get(chain, []))
    into: dict[str, set[str]] = {}
    for edge in edges(funnel):
        if edge.source in ids and edge.target in ids:
            into.setdefault(edge.target, set()).add(edge.source)

    def listed(step: str, seen: frozenset[str]) -> set[str]:
        out: set[str] = set()
        for source in into.get(step, set()) - seen:
            if funnel.steps[source].step.kind in SILENT_KINDS:
                out |= listed(source, seen | {source})
            else:
                out.add(source)
        return out

    return {step: sorted(listed(step, frozenset({step}))) for step in ids}


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
    for g in cohort.dropped:
        if mine(g.segment):
            key = (g.step, label(g.source))
            dropped[key] = dropped.get(key, 0) + g.leads

    def reach(step: str, src: str | None) -> int:
        if src is not None:
            return reached.get((step, src), 0)
        return sum(reached.get((step, s), 0) for s in sources)

    ids = funnel.chains.get(chain, [])
    into = feeders(funnel, chain)
    stats = []
    for step_id in ids:
        kind = funnel.steps[step_id].step.kind
        if kind in SILENT_KINDS:
            continue
        first = step_id == ids[0]

        def before(src: str | None, step: str = step_id, first: bool = first) -> int:
            """Leads at the busiest step leading here (the chain's first: who entered it)."""
            if first:
                return entered.get(src, 0) if src is not None else sum(entered.values())
            return max((reach(f, src) for f in into[step]), default=0)

        by_source = {}
        for src in sources:
            n = reach(step_id, src)
            by_source[src] = StepCount(
                n,
                dropped.get((step_id, src), 0),
                _ratio(n, before(src)),
                _ratio(n, entered.get(src, 0)),
            )
        total_n = sum(c.reached for c in by_source.values())
        total = StepCount(
            total_n,
            sum(c.dropped for c in by_source.values()),
            _ratio(total_n, before(None)),
            _ratio(total_n, sum(entered.values())),
        )
        stats.append(StepStat(step_id, kind, total, by_source))
    return FunnelSection(chain, segment, title, sum(entered.values()), entered, stats)


@dataclass(frozen=True, slots=True)
class DroppedLead:
    lead: LeadRow
    last_event_at: datetime | None
    idle: timedelta | None


async def dropped_at(db: Database, f: LeadFilter, step: str, now: datetime) -> list[DroppedLead]:
    """Leads who dropped at ``step`` (the report's definition), longest silent first."""
    async with db.session() as session:
        rows = await dropped_leads(session, f, step)
        return [
            DroppedLead(lead_row(lead), at, now - at if at is not None else None)
            for lead, at in rows
        ]
