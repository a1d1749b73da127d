"""The draft → preview → send flow that ``leadbot broadcast send`` and /broadcast share.

The journeys are those of tests/reports/conftest.py: three reachable Telegram leads (C, D,
E) and one terminal lead (F).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.broadcasts.audience import AudienceWords
from bot.broadcasts.flow import make_draft, preview, send
from bot.broadcasts.service import BroadcastError, control, progress, progress_list
from bot.scenario.funnel import Funnel
from storage.db import Database
from tests.conftest import Clock
from tests.reports.conftest import Journeys, drive

MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
async def journeys(db: Database, mini: Funnel, clock: Clock) -> Journeys:
    return await drive(db, mini, clock)


async def test_preview_counts_samples_and_hints_at_other_channels(
    db: Database, mini: Funnel, journeys: Journeys
) -> None:
    now = journeys.end
    draft = make_draft(mini, AudienceWords(), now, MSK, content_later=True)
    assert not draft.has_content
    found = await preview(db, mini, draft, now, size=2)
    assert (found.count, len(found.sample), found.messages) == (3, 2, [])
    assert found.elsewhere == 1 and "1 more lead(s) match on other channels" in found.hint

    terminal = make_draft(mini, AudienceWords(channel="terminal"), now, MSK, content_later=True)
    assert (await preview(db, mini, terminal, now)).elsewhere == 3
    everywhere = make_draft(mini, AudienceWords(channel=None), now, MSK, content_later=True)
    assert (await preview(db, mini, everywhere, now)).hint == ""


async def test_the_preview_is_what_the_first_sampled_lead_gets_and_send_queues_it(
    db: Database, mini: Funnel, journeys: Journeys
) -> None:
    now = journeys.end
    words = AudienceWords(segment="info")
    draft = make_draft(mini, words, now, MSK, message={"message": "Hi {first_name}!"})
    found = await preview(db, mini, draft, now)
    first = found.sample[0].lead
    assert found.count == 2 and found.seen_by == first.first_name
    assert [m.text for m in found.messages] == [f"Hi {first.first_name}!"]

    started = await send(db, mini, draft, now, MSK, created_by="test")
    assert started.queued == 2 and started.name.startswith("Hi {first_name}!")
    assert (await progress(db, started.broadcast_id)).queued == 2

    chain = make_draft(mini, AudienceWords(channel=None), now, MSK, chain="comeback")
    second = await send(db, mini, chain, now, MSK, created_by="test")
    await control(db, second.broadcast_id, "cancel", now)
    listed = await progress_list(db, 10)  # all of them in a fixed number of queries
    ids = [second.broadcast_id, started.broadcast_id]
    assert [p.broadcast.id for p in listed] == ids
    one_by_one = [await progress(db, i) for i in ids]
    assert [(p.queued, p.cancelled, p.states) for p in listed] == [
        (p.queued, p.cancelled, p.states) for p in one_by_one
    ]
    assert listed[0].cancelled == 4 and listed[1].queued == 2


def test_a_draft_refuses_what_neither_face_can_send(mini: Funnel, clock: Clock) -> None:
    now = clock()
    with pytest.raises(BroadcastError, match="buttons go with a message"):
        make_draft(mini, AudienceWords(), now, MSK, chain="comeback",
                   buttons=[{"text": "Go", "goto": "hot-2"}])  # fmt: skip
    with pytest.raises(BroadcastError, match="either a message or a chain"):
        make_draft(mini, AudienceWords(), now, MSK)
    with pytest.raises(BroadcastError, match=r"at: .* is in the past"):
        make_draft(mini, AudienceWords(), now, MSK, chain="comeback", at="2020-01-01 10:00")
