"""Audience filters against a database of known journeys (see tests/reports/conftest.py).

Telegram leads: A and B are with a manager (never in an audience); C waits in the info
chain (vk_ads); D stopped at q_budget unclassified (tg_post); E completed the info chain
(tg_post) and paid. F is a terminal lead two days later, classified "nope".
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.broadcasts.audience import AudienceWords, build_audience, describe, parse_at, parse_words
from bot.broadcasts.service import BroadcastError
from bot.scenario.funnel import Funnel
from storage import broadcasts
from storage.broadcast_queries import audience_sample
from storage.broadcasts import Audience
from storage.db import Database
from tests.broadcasts.conftest import add_event
from tests.conftest import Clock
from tests.reports.conftest import Journeys, drive

MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
async def journeys(db: Database, mini: Funnel, clock: Clock) -> Journeys:
    return await drive(db, mini, clock)


async def names(db: Database, audience: Audience, journeys: Journeys) -> set[str]:
    by_id = {v: k for k, v in journeys.ids.items()}
    async with db.session() as session:
        count = await broadcasts.count(session, audience, journeys.end)
        rows = await audience_sample(session, audience, journeys.end, size=100)
    assert count == len(rows)
    return {by_id[r.lead.id] for r in rows}


FILTERS: list[tuple[Audience, set[str]]] = [
    (Audience(), {"C", "D", "E"}),  # A and B are with a manager
    (Audience(channel=None), {"C", "D", "E", "F"}),
    (Audience(channel="terminal"), {"F"}),
    (Audience(segment="info"), {"C", "E"}),
    (Audience(segment="(none)"), {"D"}),
    (Audience(segment="hot"), set()),
    (Audience(stage="cold"), {"D"}),
    (Audience(stage="warm"), {"C", "E"}),
    (Audience(status="completed"), {"E"}),
    (Audience(status="active"), {"C", "D"}),
    (Audience(source="vk_ads"), {"C"}),
    (Audience(source="tg_post"), {"D", "E"}),
    (Audience(source="(none)", channel=None), {"F"}),
    (Audience(stopped_at=("q_budget",)), {"D"}),
    (Audience(stopped_at=("q_budget", "info_end")), {"D", "E"}),
    (Audience(stopped_at=("hot_call",)), set()),  # A and B stopped there, but handed off
    (Audience(idle_days=1), {"C", "D"}),  # E paid at the very end
    (Audience(idle_days=3), set()),
    (Audience(segment="info", idle_days=1), {"C"}),
]


async def test_filters(db: Database, journeys: Journeys) -> None:
    for audience, expected in FILTERS:
        assert await names(db, audience, journeys) == expected, audience


async def test_joined_dates_and_variants(db: Database, journeys: Journeys) -> None:
    start = journeys.start  # A arrived; B, C, D, E every 10 minutes after
    after_b = Audience(joined_after=start + timedelta(minutes=15))
    assert await names(db, after_b, journeys) == {"C", "D", "E"}
    assert await names(db, Audience(joined_before=start + timedelta(minutes=25)), journeys) == {"C"}
    await add_event(db, journeys.ids["D"], "step_sent", journeys.start, "q_need", variant="B")
    assert await names(db, Audience(variant=("q_need", "B")), journeys) == {"D"}
    assert await names(db, Audience(variant=("q_need", "A")), journeys) == set()


async def test_words_as_operators_type_them(db: Database, journeys: Journeys, mini: Funnel) -> None:
    now = journeys.end

    def build(**words: object) -> Audience:
        return build_audience(AudienceWords(**words), mini, now, MSK)  # type: ignore[arg-type]

    # A date is a day in TIMEZONE; as the upper bound it includes the whole day.
    assert await names(db, build(joined_before="2026-03-02"), journeys) == {"C", "D", "E"}
    assert await names(db, build(joined_after="2026-03-03", channel=None), journeys) == {"F"}
    assert await names(db, build(joined_after="300d"), journeys) == {"C", "D", "E"}
    request = parse_words(
        ["segment=info", "stopped-at=info_end,info-2", "idle=1", "since=2026-03-01"]
    )
    audience = build_audience(request.audience, mini, now, MSK)
    assert await names(db, audience, journeys) == {"C"}
    assert describe(audience) == (
        "segment=info channel=telegram joined-after=2026-03-01 00:00 "
        "stopped-at=info_end,info-2 idle-days=1"
    )


@pytest.mark.parametrize(
    ("words", "error"),
    [
        ({"segment": "vip"}, "segment: no segment 'vip' (have: hot, info, nope)"),
        ({"stage": "lukewarm"}, "stage: 'lukewarm' is not one of visitor"),
        ({"status": "unsubscribed"}, "status: a mailing never reaches unsubscribed leads"),
        ({"status": "handed_off"}, "never reaches handed_off"),
        ({"channel": "vk"}, "channel: 'vk' is not one of telegram, business, terminal"),
        ({"stopped_at": ["nowhere"]}, "stopped-at: no step 'nowhere' in the scenario"),
        ({"idle_days": -1}, "idle-days: must be 0 or more"),
        ({"variant": "q_need"}, "variant: 'q_need' should be STEP=VARIANT"),
        ({"variant": "nope=B"}, "variant: no step 'nope'"),
        ({"joined_after": "last week"}, "joined: 'last week' is not a date"),
        ({"joined_after": "2026-03-05", "joined_before": "2026-03-01"}, "must be before"),
    ],
)
def test_bad_words_fail_in_one_line(mini: Funnel, words: dict[str, object], error: str) -> None:
    with pytest.raises(BroadcastError, match=re.escape(error)):
        build_audience(AudienceWords(**words), mini, Clock()(), MSK)  # type: ignore[arg-type]


def test_telegram_words_and_times(mini: Funnel) -> None:
    request = parse_words(
        ["chain=comeback", "name=Spring sale", "idle=3d", "button=Call me:hot_call",
         "button=Site:https://shop.test/x", "variant=q_need:B"]
    )  # fmt: skip
    assert (request.chain, request.name, request.audience.idle_days) == (
        "comeback",
        "Spring sale",
        3,
    )
    assert request.buttons == [
        {"text": "Call me", "goto": "hot_call"},
        {"text": "Site", "url": "https://shop.test/x"},
    ]
    assert request.audience.variant == "q_need:B"
    for bad, error in (
        ("colour=red", "unknown filter 'colour'"),
        ("segment", "key=value"),
        ("idle=soon", "not a number of days"),
        ("button=Call", "Text:step"),
    ):
        with pytest.raises(BroadcastError, match=error):
            parse_words([bad])
    now = Clock()()  # 2026-03-02 12:00 in Moscow
    assert parse_at("2026-03-02 15:30", now, MSK) == now + timedelta(hours=3, minutes=30)
    for bad, error in (
        ("2026-03-01 10:00", "in the past"),
        ("tomorrow", "should look like"),
        ("2026-02-30 10:00", "not a real date"),
    ):
        with pytest.raises(BroadcastError, match=error):
            parse_at(bad, now, MSK)
