"""A realistic lead log for the reading side: journeys walked through the real service,
cloned with their whole event history, spread over two months.

Seven journeys through ``tests/data/mini.yaml`` (hot leads waiting, hot leads handed off and
some paying, information seekers before and after the guide, a lead who is no client, leads
who stopped at the first questions) are each walked once by ``FunnelService`` so every row is
one the engine wrote, then cloned with ``INSERT … SELECT`` (lead, answers, pending touches and
every event). Clones arrive over 60 days in id order, as a real log grows (their events shifted with
them), the journeys mixed all along, from four sources, in two languages, so period,
source, segment and language filters pick real subsets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.results import say
from bench.seeding import clone, load_mini, template_events, vacuum_lead_reach
from bot.engine.types import Classified, Contact, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder, utcnow
from fakes.channels import Collect
from storage.db import Database
from storage.lead_search import backfill
from storage.leads import LeadRepo
from storage.models import UTCDateTime

SPREAD_DAYS = 60
ROUND = 2_000  # leads cloned per round, every journey its share
FIRST_USER = 1
TEMPLATE_USERS = 8_000_000_000
SOURCES = "CASE l.id % 4 WHEN 0 THEN 'vk_ads' WHEN 1 THEN 'tg_post' WHEN 2 THEN 'ads' ELSE NULL END"
LANGUAGES = "CASE l.id % 3 WHEN 0 THEN 'en' WHEN 1 THEN 'en-GB' ELSE 'ru' END"


class NotOurClient(OfflineQualifier):
    """The offline scorer, except that someone looking for a job is not our client."""

    async def qualify(self, funnel: Funnel, answers: dict[str, str]) -> Classified:
        if "job" in answers.get("about", ""):
            return Classified("nope", 90, "not_a_fit", reason="looking for a job")
        return await super().qualify(funnel, answers)


HOT = ("Buy now", "Big", Text("We want to buy two machines"), Contact("+79991234567"))
INFO = ("Just looking", "Big", Text("We compare options"), Contact("+79990000005"))


@dataclass(frozen=True)
class Journey:
    name: str
    share: int  # clones per 100 leads
    script: tuple[object, ...]
    wait_fired: bool = False  # skip the first wait and fire it (the guide's day)
    pays: str | None = None  # an order_paid event: amount in RUB


JOURNEYS = (
    Journey("hot, waiting after the offer", 34, HOT),
    Journey("hot, clicked, handed off", 14, (*HOT, "I want it")),
    Journey("hot, clicked and paid", 6, (*HOT, "I want it"), pays="1000"),
    Journey("info, got the guide, waiting", 16, INFO),
    Journey("info, saw the tripwire", 16, INFO, wait_fired=True),
    Journey(
        "not our client", 8, ("Just looking", "Big", Text("I am looking for a job"), Text("Skip"))
    ),
    Journey("stopped at q_budget", 6, ("Buy now",)),
)


async def walk(db: Database, funnel: Funnel, n: int, journey: Journey) -> int:
    """Walk one template lead through ``journey``; returns its id."""
    service = FunnelService(db, ScenarioHolder(funnel), NotOurClient())
    key = LeadKey("telegram", TEMPLATE_USERS + n)
    chat = Collect()
    result = await service.handle(key, Start("vk_ads", "Ann", username="ann"), chat)
    for step in journey.script:
        event = chat.press(step) if isinstance(step, str) else step
        await service.handle(key, event, chat)  # type: ignore[arg-type]
    if journey.wait_fired:
        if not await service.skip_wait(key):
            raise RuntimeError(f"{journey.name}: no wait to skip")
        await service.fire_due(lambda lead: Collect(), worker="bench")
    if journey.pays is not None:
        async with db.session() as session, session.begin():
            payload = {"amount": journey.pays, "currency": "RUB", "title": "Machine X",
                       "tier": "core", "offer_step": "hot_offer"}  # fmt: skip
            LeadRepo(session).add_events(
                result.lead_id, [("order_paid", "hot_offer", payload)], utcnow()
            )
    return result.lead_id


async def copy_events(db: Database, template: int, after: tuple[int, int], arrival: Arrival) -> int:
    """The template's whole event history for the leads cloned after ``after`` (the newest
    lead and event ids before ``clone``), each event as far from the clone's arrival as it
    was from the template's. Returns events per lead.

    Rows are picked by id ranges, not by joins: PostgreSQL has no statistics on tables being
    filled, and a join would make it rescan them for every round (quadratic)."""
    last_lead, last_event = after
    async with db.engine.begin() as conn:
        events = await template_events(conn, template)
        # ``clone`` copied the template's newest event; the whole history replaces it.
        await conn.execute(text("DELETE FROM events WHERE id > :e"), {"e": last_event})
        await conn.execute(text("DELETE FROM lead_reach WHERE lead_id > :l"), {"l": last_lead})
    # A transaction per event of the history, as the bot writes them: PostgreSQL cannot
    # prune the versions of a ``lead_reach`` row its own open transaction keeps updating.
    for e in events:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO events (lead_id, type, step, payload, scenario_version, variant,"
                    f" created_at) SELECT l.id, :type, :step, :payload, :version, :variant,"
                    f" {arrival.sql()} FROM leads l WHERE l.id > :l ORDER BY l.id"
                ),
                {
                    "type": e.type,
                    "step": e.step,
                    "payload": e.payload if isinstance(e.payload, str) else json.dumps(e.payload),
                    "version": e.scenario_version,
                    "variant": e.variant,
                    "l": last_lead,
                    **arrival.params(e.created_at),
                },
            )
    return len(events)


async def newest_ids(db: Database) -> tuple[int, int]:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM leads),"
                    " (SELECT COALESCE(MAX(id), 0) FROM events)"
                )
            )
        ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class Arrival:
    """Lead ``user_id`` k arrives at ``start + (k - 1) × spacing``: ids and times rise
    together, as in a real log (a period is a run of neighbouring rows)."""

    start: datetime
    spacing: float  # seconds between two arrivals
    template_start: datetime  # when the template lead arrived
    sqlite: bool

    def sql(self) -> str:
        """The arrival of lead ``l`` plus ``:after`` seconds."""
        offset = "((l.user_id - 1) * :spacing + :after)"
        if self.sqlite:
            return f"strftime('%Y-%m-%d %H:%M:%f000', :start, '+' || {offset} || ' seconds')"
        return f"CAST(:start AS timestamptz) + {offset} * interval '1 second'"

    def params(self, moment: datetime | None = None) -> dict[str, Any]:
        """``moment`` of the template's history as seconds after its arrival."""
        after = (moment - self.template_start).total_seconds() if moment else 0.0
        start = self.start.astimezone(UTC)
        return {
            "start": start.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else start,
            "spacing": self.spacing,
            "after": after,
        }


async def fill(db: Database, leads: int) -> dict[str, int]:
    """``leads`` leads with their histories; returns the counts seeded.

    Leads are cloned in rounds of ``ROUND`` (every journey its share in each round), so the
    journeys are mixed all along the two months rather than one after another.
    """
    funnel = load_mini()
    clock = time.perf_counter()
    templates = [await walk(db, funnel, n, j) for n, j in enumerate(JOURNEYS)]
    async with db.engine.connect() as conn:
        starts = (
            await conn.execute(
                text("SELECT id, created_at FROM leads WHERE id IN "
                     f"({', '.join(map(str, templates))})").columns(created_at=UTCDateTime())
            )
        ).all()  # fmt: skip
    started = {int(i): at for i, at in starts}
    spacing = SPREAD_DAYS * 86400 / leads
    start = utcnow() - timedelta(days=SPREAD_DAYS)
    total_share = sum(j.share for j in JOURNEYS)
    first = FIRST_USER
    events = 0
    per_journey = dict.fromkeys(range(len(JOURNEYS)), 0)
    while first - FIRST_USER < leads:
        size = min(ROUND, leads - (first - FIRST_USER))
        shares = [size * j.share // total_share for j in JOURNEYS]
        shares[0] += size - sum(shares)
        for n, (count, template) in enumerate(zip(shares, templates, strict=True)):
            if not count:
                continue
            arrival = Arrival(start, spacing, started[template], db.is_sqlite)
            before = await newest_ids(db)
            await clone(db, template, first, count)
            events += await copy_events(db, template, before, arrival) * count
            per_journey[n] += count
            first += count
        await vacuum_lead_reach(db)
    for n, journey in enumerate(JOURNEYS):
        say(f"    {journey.name}: {per_journey[n]:,} leads")
    arrival = Arrival(start, spacing, start, db.is_sqlite)
    async with db.engine.begin() as conn:
        for table in ("events", "answers", "scheduled_touches"):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE lead_id IN ({', '.join(map(str, templates))})")
            )
        await conn.execute(
            text(f"DELETE FROM leads WHERE id IN ({', '.join(map(str, templates))})")
        )
        # Arrival over two months in id order; names, sources and languages mixed.
        await conn.execute(
            text(
                f"UPDATE leads AS l SET created_at = {arrival.sql()},"
                f" source = {SOURCES}, language = {LANGUAGES},"
                " username = 'user' || CAST(l.user_id AS TEXT),"
                " first_name = 'User' || CAST(l.user_id AS TEXT)"
            ),
            arrival.params(),
        )
        await conn.run_sync(backfill)  # the managers' search over the new names
        await conn.execute(text("ANALYZE"))
    say(
        f"  seeded {leads:,} leads, {events:,} events ({events / leads:.1f} a lead)"
        f" in {time.perf_counter() - clock:.0f}s"
    )
    return {"leads": leads, "events": events}
