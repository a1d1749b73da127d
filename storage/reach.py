"""The funnel report's grouped counts from ``lead_reach``: one pass over the cohort's leads.

Every lead has one ``lead_reach`` row, kept by a trigger on ``events`` (migration 0013): a
string of *marks*, each once, in the order first reached, between ``|``:

- ``t:<type>``: the lead has an event of this type;
- ``s:<step>``: it has an event at this step (it *reached* the step);
- ``x:<type>`` / ``x:<type>:<tier>``: an offer shown or clicked or an order paid
  (``TIERED``), with the payload's tier if it has one.

So "distinct leads with an event of type T / at step S, by source and segment" is a count of
leads grouped by (source, segment, marks), expanded here: leads who took the same path share
one string, and a report reads one row per lead (via its primary key) and a few hundred
groups, whatever the length of the event log. The cohort is chosen by the same
``LeadFilter`` as everywhere (filters on leads), so every filter stays exact. The scans over
``events`` in ``storage/read_models.py`` (``event_groups``, ``step_groups``) are the
definition this must equal; ``tests/reports/test_reach.py`` holds the two together.

Step ids cannot contain ``|`` (the scenario's id pattern), nor can event types or tiers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.vocabulary import EventType
from storage.criteria import LeadFilter, dropped_here
from storage.models import Lead, LeadReach
from storage.read_models import EventGroup, LeadGroup, StepGroup

SEP = "|"
#: The event types whose tier is marked (migration 0013's trigger marks exactly these).
TIERED = (EventType.OFFER_SHOWN, EventType.OFFER_CLICKED, EventType.ORDER_PAID)


@dataclass(frozen=True, slots=True)
class Marks:
    """One ``lead_reach.marks`` string, read."""

    types: frozenset[str]
    steps: tuple[str, ...]
    tiers: tuple[tuple[str, str | None], ...]  # (type, tier or None)


@lru_cache(maxsize=4096)
def read_marks(marks: str | None) -> Marks:
    """Parse a marks string (cached: a report sees the same few paths over and over)."""
    types: set[str] = set()
    steps: list[str] = []
    tiers: list[tuple[str, str | None]] = []
    for mark in (marks or "").split(SEP):
        kind, _, value = mark.partition(":")
        if kind == "t":
            types.add(value)
        elif kind == "s":
            steps.append(value)
        elif kind == "x":
            type_, colon, tier = value.partition(":")
            tiers.append((type_, tier if colon else None))
    return Marks(frozenset(types), tuple(steps), tuple(tiers))


class PathGroup(NamedTuple):
    """Leads of the cohort alike in everything the report counts."""

    source: str | None
    segment: str | None
    stage: str
    status: str
    step: str | None
    marks: str | None
    dropped: bool
    leads: int


async def path_groups(
    session: AsyncSession, f: LeadFilter, with_dropped: bool = True
) -> list[PathGroup]:
    """The cohort's leads grouped by where they stand and the path they took (one query).

    ``dropped`` is ``criteria.dropped_here`` (asked only when ``with_dropped``).
    """
    dropped = (case((and_(*dropped_here()), True), else_=False) if with_dropped else false()).label(
        "dropped"
    )
    inner = (
        select(
            Lead.source,
            Lead.segment,
            Lead.stage,
            Lead.status,
            Lead.step,
            LeadReach.marks,
            dropped,
        )
        .outerjoin(LeadReach, LeadReach.lead_id == Lead.id)
        .where(*f.conditions())
        .subquery()
    )
    keys = list(inner.c)
    # ``dropped`` first: SQLite sorts the groups in a temporary B-tree, and with the 0/1
    # first (rather than ``source``) the whole-log query took 355–405 ms instead of
    # 555–585 ms at 100k leads (benchmark 6's database, measured alternately).
    first = inner.c.dropped
    stmt = select(*keys, func.count()).group_by(first, *(k for k in keys if k is not first))
    return [
        PathGroup(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), int(r[7]))
        for r in await session.execute(stmt)
    ]


@dataclass(slots=True)
class Grouped:
    """The report's grouped counts, in the shapes of ``storage.read_models``."""

    leads: list[LeadGroup] = field(default_factory=list)
    events: list[EventGroup] = field(default_factory=list)
    tiers: list[EventGroup] = field(default_factory=list)
    steps: list[StepGroup] = field(default_factory=list)
    dropped: list[StepGroup] = field(default_factory=list)


def expand(groups: list[PathGroup], types: Collection[str], tier_types: Collection[str]) -> Grouped:
    """Sum path groups into what ``lead_groups``, ``event_groups`` (``types``, and
    ``tier_types`` by tier), ``step_groups`` and ``dropped_groups`` would return."""
    leads: dict[tuple[str | None, str | None, str, str, str | None], int] = {}
    events: dict[tuple[str | None, str | None, str], int] = {}
    tiers: dict[tuple[str | None, str | None, str, str | None], int] = {}
    steps: dict[tuple[str | None, str | None, str], int] = {}
    dropped: dict[tuple[str | None, str | None, str], int] = {}
    wanted, tiered = frozenset(types), frozenset(tier_types)
    if not tiered <= set(TIERED):
        raise ValueError(f"only {', '.join(TIERED)} have their tier marked")
    for g in groups:
        key = (g.source, g.segment, g.stage, g.status, g.step)
        leads[key] = leads.get(key, 0) + g.leads
        if g.dropped and g.step is not None:
            where = (g.source, g.segment, g.step)
            dropped[where] = dropped.get(where, 0) + g.leads
        marks = read_marks(g.marks)
        for type_ in marks.types:
            if type_ not in wanted:
                continue
            k = (g.source, g.segment, type_)
            events[k] = events.get(k, 0) + g.leads
        for type_, tier in marks.tiers:
            if type_ in tiered:
                kt = (g.source, g.segment, type_, tier)
                tiers[kt] = tiers.get(kt, 0) + g.leads
        for step in marks.steps:
            ks = (g.source, g.segment, step)
            steps[ks] = steps.get(ks, 0) + g.leads
    return Grouped(
        leads=[LeadGroup(*k, n) for k, n in leads.items()],
        events=[EventGroup(src, seg, t, None, n) for (src, seg, t), n in events.items()],
        tiers=[EventGroup(*k, n) for k, n in tiers.items()],
        steps=[StepGroup(*k, n) for k, n in steps.items()],
        dropped=[StepGroup(*k, n) for k, n in dropped.items()],
    )


__all__ = ["SEP", "TIERED", "Grouped", "Marks", "PathGroup", "expand", "path_groups", "read_marks"]
