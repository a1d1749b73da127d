"""The report's fast path (``lead_reach``, kept by a trigger) against the plain scan of the
event log: the same grouped counts for every filter, on known journeys and on a seeded log;
the trigger's marks equal the migration's backfill; the trigger is there at head."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bench.lead_log import fill
from bot.reports.metrics import ORDER_PAID, TIERED_EVENTS, Cohort, load_cohort, scan_cohort
from bot.service import utcnow
from storage.criteria import NONE_LABEL, LeadFilter
from storage.db import MIGRATIONS, Database, alembic_config
from storage.leads import LeadRepo
from storage.models import Lead, LeadReach
from storage.reach import TIERED, read_marks
from tests.conftest import in_unit
from tests.reports.conftest import Journeys, at


def plain(cohort: Cohort) -> dict[str, list[tuple[str, ...]]]:
    """The cohort's groups as sorted plain values (an enum member equals its string)."""
    return {
        name: sorted(tuple(str(v) for v in g) for g in getattr(cohort, name))
        for name in ("leads", "events", "tiers", "steps", "dropped")
    }


async def same_both_ways(db: Database, f: LeadFilter) -> dict[str, list[tuple[str, ...]]]:
    fast, scanned = await load_cohort(db, f), await scan_cohort(db, f)
    assert plain(fast) == plain(scanned), f
    assert sorted(map(repr, fast.orders)) == sorted(map(repr, scanned.orders))
    return plain(fast)


def total(groups: dict[str, list[tuple[str, ...]]]) -> int:
    return sum(int(g[-1]) for g in groups["leads"])


async def test_fast_path_equals_the_event_log_scan_on_known_journeys(
    db: Database, journeys: Journeys
) -> None:
    everyone = await same_both_ways(db, LeadFilter())
    assert len(everyone["steps"]) > 10 and everyone["dropped"] and everyone["tiers"]
    for f in (
        LeadFilter(since=at(journeys, days=1)),
        LeadFilter(until=at(journeys, minutes=25)),
        LeadFilter(source="vk_ads"),
        LeadFilter(source=NONE_LABEL),
        LeadFilter(segment="hot"),
        LeadFilter(segment=NONE_LABEL),
        LeadFilter(channel="terminal"),
        LeadFilter(language="en"),
        LeadFilter(variant=("hot_offer", "a")),
    ):
        await same_both_ways(db, f)


async def test_fast_path_equals_the_scan_on_a_seeded_log(db: Database) -> None:
    seeded = await fill(db, 700)
    assert seeded["events"] > 10_000
    now = utcnow()
    assert total(await same_both_ways(db, LeadFilter())) == 700
    for f in (
        LeadFilter(since=now - timedelta(days=30)),
        LeadFilter(since=now - timedelta(days=45), until=now - timedelta(days=10)),
        LeadFilter(source="vk_ads"),
        LeadFilter(source=NONE_LABEL),
        LeadFilter(segment="info"),
        LeadFilter(segment=NONE_LABEL),
        LeadFilter(language="en"),
        LeadFilter(language="ru", source="ads", since=now - timedelta(days=20)),
    ):
        assert 0 < total(await same_both_ways(db, f)) < 700, f


async def marks_by_lead(db: Database) -> dict[int, str]:
    async with db.session() as session:
        rows = await session.execute(select(LeadReach.lead_id, LeadReach.marks))
        return {int(lead): str(marks) for lead, marks in rows}


def _downgrade(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0009")


async def test_the_migration_folds_in_existing_events_as_the_trigger_would(
    db: Database, journeys: Journeys
) -> None:
    kept = await marks_by_lead(db)
    assert set(kept) == set(journeys.ids.values())
    async with db.engine.begin() as conn:
        await conn.run_sync(_downgrade)
    assert await db.current_revision() == "0009"
    await db.upgrade()  # folds the existing log into a new lead_reach
    assert await marks_by_lead(db) == kept  # the same marks, in the same order


async def test_the_trigger_marks_every_insert_at_head(db: Database, journeys: Journeys) -> None:
    """Fails if a later migration drops ``tr_events_lead_reach`` (SQLite drops a table's
    triggers when ``batch_alter_table`` rebuilds it)."""
    lead = journeys.ids["D"]
    shown = [("offer_shown", "hot_offer", {"tier": "upsell"})]
    async with db.session() as session, session.begin():
        repo = LeadRepo(session)
        now = utcnow()
        await in_unit(session, lambda u: u.insert_events(lead, shown, now))  # the hot path's
        repo.add_events(lead, [("order_paid", None, {"amount": "5"})], utcnow())  # the ORM's
    marks = read_marks((await marks_by_lead(db))[lead])
    assert {"started", "offer_shown", "order_paid"} <= marks.types
    assert "hot_offer" in marks.steps
    assert ("offer_shown", "upsell") in marks.tiers and ("order_paid", None) in marks.tiers
    before = (await marks_by_lead(db))[lead]
    async with db.session() as session, session.begin():
        now = utcnow()
        await in_unit(session, lambda u: u.insert_events(lead, shown, now))
    assert (await marks_by_lead(db))[lead] == before  # a mark is written once


async def test_leads_without_events_still_count(db: Database, journeys: Journeys) -> None:
    async with db.session() as session, session.begin():
        session.add(
            Lead(channel="telegram", user_id=99, first_name="Quiet", created_at=at(journeys))
        )
    assert total(await same_both_ways(db, LeadFilter())) == 7


def test_the_marked_tiers_are_the_ones_the_report_reads() -> None:
    spec = importlib.util.spec_from_file_location(
        "reach_migration", MIGRATIONS / "versions" / "0013_lead_reach.py"
    )
    assert spec is not None and spec.loader is not None
    migration: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert set(migration.TIERED) == set(TIERED) == {*TIERED_EVENTS, ORDER_PAID}


@pytest.mark.parametrize(
    ("marks", "types", "steps", "tiers"),
    [
        (None, set(), (), ()),
        ("|", set(), (), ()),
        (
            "|t:started|s:hello|t:offer_shown|x:offer_shown:core|x:order_paid|",
            {"started", "offer_shown"},
            ("hello",),
            (("offer_shown", "core"), ("order_paid", None)),
        ),
    ],
)
def test_marks_are_read_back(
    marks: str | None, types: set[str], steps: tuple[str, ...], tiers: tuple[Any, ...]
) -> None:
    got = read_marks(marks)
    assert (set(got.types), got.steps, got.tiers) == (types, steps, tiers)
