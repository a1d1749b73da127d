"""The funnel report and /stats against known journeys (see conftest): exact numbers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.reports.metrics import stats
from bot.reports.report import as_dict, build_report, csv_rows
from bot.reports.spend import load_spend
from bot.reports.steps import dropped_at
from bot.scenario.funnel import Funnel
from storage.criteria import NONE_LABEL, LeadFilter
from storage.db import Database
from tests.reports.conftest import Journeys, at


def steps_of(report_dict: dict[str, Any], chain: str) -> dict[str, Any]:
    section = next(s for s in report_dict["funnel"] if s["chain"] == chain)
    return {st["step"]: st for st in section["steps"]}


async def test_classic_metrics_in_total_and_per_source(
    db: Database, mini: Funnel, journeys: Journeys
) -> None:
    report = await build_report(db, mini, LeadFilter(), journeys.end)
    t = report.total
    assert (t.leads, t.qualified, t.not_client, t.contacts, t.lead_magnets) == (6, 4, 1, 3, 1)
    assert (t.offers_shown, t.offers_clicked, t.handoffs, t.buyers, t.orders) == (3, 2, 2, 2, 2)
    assert t.shown_by_tier == {"core": 2, "tripwire": 1}
    assert t.clicked_by_tier == {"core": 2}
    assert t.orders_by_tier == {"core": 1, "tripwire": 1}
    assert t.revenue == {"RUB": Decimal("1009.90")}
    assert t.segments == {"hot": 2, "info": 2, "nope": 1, NONE_LABEL: 1}
    assert t.stages == {"hot": 2, "warm": 2, "cold": 2}
    assert t.cr_qualified == 4 / 6 and t.cr1 == 2 / 6 and t.offer_ctr == 2 / 3
    assert t.cpl is None and t.cpo is None  # no spend file

    assert list(report.by_source) == ["vk_ads", "tg_post", NONE_LABEL]  # most leads first
    vk, tg, none = report.by_source.values()
    assert (vk.leads, vk.qualified, vk.contacts, vk.offers_clicked, vk.orders) == (3, 3, 2, 2, 1)
    assert vk.revenue == {"RUB": Decimal("1000")}
    assert (tg.leads, tg.qualified, tg.lead_magnets, tg.offers_shown, tg.offers_clicked) == (
        2, 1, 1, 1, 0,
    )  # fmt: skip
    assert tg.cr1 == 0.5 and tg.offer_ctr == 0.0
    assert (none.leads, none.qualified, none.not_client, none.cr_qualified) == (1, 0, 1, 0.0)
    assert none.offer_ctr is None  # nothing shown: no rate rather than 0%


async def test_spend_gives_cpl_and_cpo(
    db: Database, mini: Funnel, journeys: Journeys, tmp_path: Path
) -> None:
    spend_file = tmp_path / "spend.yaml"
    spend_file.write_text("vk_ads: 3000\ntg_post: {amount: 1000, currency: RUB}\nfb_ads: 500\n")
    report = await build_report(db, mini, LeadFilter(), journeys.end, load_spend(spend_file))
    vk, tg = report.by_source["vk_ads"], report.by_source["tg_post"]
    assert (vk.cpl, vk.cpo) == (Decimal("1000.00"), Decimal("3000.00"))
    assert (tg.cpl, tg.cpo) == (Decimal("500.00"), Decimal("1000.00"))
    fb = report.by_source["fb_ads"]  # paid for, brought nobody
    assert (fb.leads, fb.cpl, fb.cpo) == (0, None, None)
    assert report.by_source[NONE_LABEL].cpl is None
    assert report.total.spend is not None and report.total.spend.amount == Decimal(4500)
    assert (report.total.cpl, report.total.cpo) == (Decimal("750.00"), Decimal("2250.00"))
    total = as_dict(report)["total"]
    assert (total["spend"], total["spend_currency"], total["cpl"], total["cpo"]) == (
        4500.0, "RUB", 750.0, 2250.0,
    )  # fmt: skip


async def test_funnel_by_step_reached_conversion_and_drop_off(
    db: Database, mini: Funnel, journeys: Journeys
) -> None:
    data = as_dict(await build_report(db, mini, LeadFilter(), journeys.end))
    sections = [(s["chain"], s["segment"], s["entered"]) for s in data["funnel"]]
    assert sections == [("interview", None, 6), ("hot", "hot", 2), ("info", "info", 2),
                        ("nope", "nope", 1)]  # fmt: skip

    interview = steps_of(data, "interview")
    assert list(interview) == ["hello", "q_need", "q_budget", "q_about", "phone", "classify"]
    assert [s["reached"] for s in interview.values()] == [6, 6, 6, 5, 5, 5]
    assert interview["q_budget"]["dropped"] == 1  # Dan went silent there
    assert interview["q_about"]["from_previous"] == round(5 / 6, 4)
    assert interview["classify"]["from_start"] == round(5 / 6, 4)
    tg = interview["q_about"]["by_source"]["tg_post"]
    assert (tg["reached"], tg["from_previous"], tg["from_start"]) == (1, 0.5, 0.5)

    hot = steps_of(data, "hot")
    assert list(hot) == ["hot_offer", "hot-2", "hot_later", "hot-4", "hot-5", "hot_call", "hot-7"]
    assert [s["reached"] for s in hot.values()] == [2, 2, 0, 0, 0, 2, 0]
    assert hot["hot_call"]["dropped"] == 0  # both are with a manager: not dropped
    assert hot["hot_call"]["from_start"] == 1.0
    # "of previous" follows the path: hot_call is reached from the offer (a click), the wait
    # (a reply) or hot_later (a button), not from the end step above it in the file.
    assert hot["hot_call"]["from_previous"] == 1.0
    assert hot["hot-7"]["from_previous"] == 0.0
    assert hot["hot-4"]["from_previous"] is None  # nobody at hot_later, which leads here

    info = steps_of(data, "info")
    assert "info-5" not in info  # a goto logs nothing, so it is not a step of the report
    assert [s["reached"] for s in info.values()] == [2, 2, 1, 1, 0, 1]
    assert info["info-2"]["dropped"] == 0  # Cleo is waiting (a touch is due), not dropped
    assert info["info_end"]["dropped"] == 0  # Eve completed
    assert info["info_branch"]["by_source"]["vk_ads"]["reached"] == 0
    assert info["info_branch"]["by_source"]["tg_post"]["from_previous"] == 1.0

    assert steps_of(data, "nope")["nope-1"]["reached"] == 1


async def test_filters_pick_the_cohort(db: Database, mini: Funnel, journeys: Journeys) -> None:
    first_day = LeadFilter(until=at(journeys, days=1))
    report = await build_report(db, mini, first_day, journeys.end)
    assert report.total.leads == 5 and NONE_LABEL not in report.by_source  # Fay came later
    later = await build_report(db, mini, LeadFilter(since=at(journeys, days=1)), journeys.end)
    assert later.total.leads == 1 and later.total.not_client == 1

    vk = await build_report(db, mini, LeadFilter(source="vk_ads"), journeys.end)
    assert list(vk.by_source) == ["vk_ads"] and vk.total.leads == 3
    no_source = await build_report(db, mini, LeadFilter(source=NONE_LABEL), journeys.end)
    assert no_source.total.leads == 1

    hot = await build_report(db, mini, LeadFilter(segment="hot"), journeys.end)
    assert (hot.total.leads, hot.total.orders) == (2, 1)
    assert [s.chain for s in hot.funnel] == ["interview", "hot"]
    telegram = await build_report(db, mini, LeadFilter(channel="telegram"), journeys.end)
    assert telegram.total.leads == 5


async def test_dropped_at_a_step_lists_who_to_win_back(db: Database, journeys: Journeys) -> None:
    now = journeys.end
    dan = await dropped_at(db, LeadFilter(), "q_budget", now)
    assert [d.lead.id for d in dan] == [journeys.ids["D"]]
    assert dan[0].last_event_at == at(journeys, minutes=30)
    assert dan[0].idle == now - at(journeys, minutes=30)
    # Cleo stands at info-2 with its wait pending: waiting, not dropped (as in the report).
    assert await dropped_at(db, LeadFilter(), "info-2", now) == []
    assert await dropped_at(db, LeadFilter(), "hot_call", now) == []  # with a manager
    assert await dropped_at(db, LeadFilter(source="vk_ads"), "q_budget", now) == []


async def test_the_report_and_dropped_at_count_the_same_leads(
    db: Database, mini: Funnel, journeys: Journeys
) -> None:
    report = await build_report(db, mini, LeadFilter(), journeys.end)
    counted = {st.step: st.total.dropped for s in report.funnel for st in s.steps}
    listed = {step: len(await dropped_at(db, LeadFilter(), step, journeys.end)) for step in counted}
    assert counted == listed and sum(counted.values()) >= 1


async def test_csv_form_is_long_and_stable(db: Database, mini: Funnel, journeys: Journeys) -> None:
    rows = list(csv_rows(await build_report(db, mini, LeadFilter(), journeys.end)))
    assert rows[0] == ("section", "chain", "segment", "source", "step", "metric", "value")
    assert ("metrics", "", "", "", "", "leads", 6) in rows
    assert ("metrics", "", "", "vk_ads", "", "cr_qualified", 1.0) in rows
    assert ("metrics", "", "", "", "", "revenue.RUB", 1009.9) in rows
    assert ("funnel", "interview", "", "tg_post", "q_about", "reached", 1) in rows
    assert ("funnel", "info", "info", "", "info-2", "dropped", 0) in rows
    assert ("funnel", "interview", "", "", "q_budget", "dropped", 1) in rows
    assert ("funnel", "hot", "hot", "", "hot-4", "from_previous", "") in rows


async def test_stats_for_today_week_and_month(
    db: Database, mini: Funnel, journeys: Journeys
) -> None:
    result = await stats(db, journeys.end, mini, ZoneInfo("Europe/Moscow"))
    today, week, month = result.windows
    assert [w.name for w in result.windows] == ["today", "7d", "30d"]
    assert (today.leads, today.qualified, today.contacts, today.by_segment) == (
        1, 0, 0, {"nope": 1},
    )  # fmt: skip
    assert (week.leads, week.qualified, week.contacts) == (6, 4, 3)
    assert week.by_segment == {"hot": 2, "info": 2, "nope": 1, NONE_LABEL: 1}
    assert month.leads == 6
    later = await stats(db, journeys.end + timedelta(days=10), mini)
    assert [w.leads for w in later.windows] == [0, 0, 6]
