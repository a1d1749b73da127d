"""A realistic lead log for the reading side: journeys walked through the real service,
cloned with their whole event history, spread over two months.

Seven journeys through ``tests/data/mini.yaml`` (hot leads waiting, hot leads handed off and
some paying, information seekers before and after the guide, a lead who is no client, leads
who stopped at the first questions) are each walked once by ``FunnelService`` so every row is
one the engine wrote, then cloned with ``INSERT … SELECT`` (lead, answers, pending touches and
every event). Clones arrive over 60 days (their events shifted with them), from four sources,
in two languages, so period, source, segment and language filters pick real subsets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, text

from bench.results import say
from bench.seeding import clone, load_mini
from bot.engine.types import Classified, Contact, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder, utcnow
from fakes.channels import Collect
from storage.db import Database
from storage.leads import LeadRepo
from storage.models import UTCDateTime

SPREAD_DAYS = 60
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


async def copy_events(db: Database, template: int, first_user: int, count: int) -> int:
    """The template's whole event history for clones ``first_user``…, each clone's events
    moved back by the same offset as its arrival (``spread``). Returns events per lead."""
    async with db.engine.begin() as conn:
        events = (
            await conn.execute(
                text(
                    "SELECT type, step, payload, scenario_version, variant, created_at"
                    " FROM events WHERE lead_id = :t ORDER BY id"
                ).columns(created_at=UTCDateTime()),
                {"t": template},
            )
        ).all()
        mine = "l.channel = 'telegram' AND l.user_id BETWEEN :first AND :last_user"
        who = {"first": first_user, "last_user": first_user + count - 1}
        await conn.execute(
            text(f"DELETE FROM events WHERE lead_id IN (SELECT l.id FROM leads l WHERE {mine})"),
            who,
        )
        shift = _shift(db.is_sqlite, "l", ":created")
        for e in events:
            await conn.execute(
                text(
                    "INSERT INTO events (lead_id, type, step, payload, scenario_version, variant,"
                    f" created_at) SELECT l.id, :type, :step, :payload, :version, :variant,"
                    f" {shift} FROM leads l WHERE {mine} ORDER BY l.id"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {
                    "type": e.type,
                    "step": e.step,
                    "payload": e.payload if isinstance(e.payload, str) else json.dumps(e.payload),
                    "version": e.scenario_version,
                    "variant": e.variant,
                    "created": e.created_at,
                    **who,
                },
            )
    return len(events)


def _shift(sqlite: bool, lead: str, value: str) -> str:
    """``value`` moved back by the arrival offset of ``lead`` (0–60 days, any minute)."""
    days = f"(({lead}.id * 7919) % {SPREAD_DAYS})"
    minutes = f"(({lead}.id * 37) % 1440)"
    if sqlite:
        return (
            f"strftime('%Y-%m-%d %H:%M:%f000', {value}, '-' || {days} || ' days',"
            f" '-' || {minutes} || ' minutes')"
        )
    return (
        f"CAST({value} AS timestamptz) - {days} * interval '1 day'"
        f" - {minutes} * interval '1 minute'"
    )


async def fill(db: Database, leads: int) -> dict[str, int]:
    """``leads`` leads with their histories; returns the counts seeded."""
    funnel = load_mini()
    start = time.perf_counter()
    templates = [await walk(db, funnel, n, j) for n, j in enumerate(JOURNEYS)]
    total_share = sum(j.share for j in JOURNEYS)
    first = FIRST_USER
    events = 0
    for n, (journey, template) in enumerate(zip(JOURNEYS, templates, strict=True)):
        count = (
            leads - (first - FIRST_USER)
            if n == len(JOURNEYS) - 1
            else leads * journey.share // total_share
        )
        await clone(db, template, first, count)
        per_lead = await copy_events(db, template, first, count)
        events += per_lead * count
        say(f"    {journey.name}: {count:,} leads × {per_lead} events")
        first += count
    shift = _shift(db.is_sqlite, "l", "l.created_at")
    async with db.engine.begin() as conn:
        for table in ("events", "answers", "scheduled_touches"):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE lead_id IN ({', '.join(map(str, templates))})")
            )
        await conn.execute(
            text(f"DELETE FROM leads WHERE id IN ({', '.join(map(str, templates))})")
        )
        # Arrival spread over two months; names, sources and languages mixed.
        await conn.execute(
            text(
                f"UPDATE leads AS l SET created_at = {shift}, source = {SOURCES},"
                f" language = {LANGUAGES}, username = 'user' || CAST(l.user_id AS TEXT),"
                " first_name = 'User' || CAST(l.user_id AS TEXT)"
            )
        )
        await conn.execute(text("ANALYZE"))
    say(f"  seeded {leads:,} leads, {events:,} events in {time.perf_counter() - start:.0f}s")
    return {"leads": leads, "events": events}
