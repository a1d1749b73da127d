"""``leadbot report --broadcast``: reach, reactions, losses and conversions, counted exactly."""

from __future__ import annotations

from datetime import timedelta

from bot.broadcasts.service import start
from bot.engine.types import Blocked, OutMessage, Stop, Text
from bot.qualification import OfflineQualifier
from bot.reports.broadcast import as_dict, build_broadcast_report
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.broadcasts import Audience
from storage.db import Database
from tests.broadcasts.conftest import seed_hot
from tests.conftest import Clock

MESSAGE = {"message": "News for {first_name}", "buttons": [{"text": "Tell me", "goto": "hot_call"}]}


class Inbox(Collect):
    """Every lead's messages, by user id, so a lead can press what it got."""

    def __init__(self, inbox: dict[int, Collect], user: int) -> None:
        super().__init__()
        self.chat = inbox.setdefault(user, Collect())

    async def send(self, message: OutMessage) -> None:
        self.chat.sent.append(message)


async def drain(service: FunnelService, inbox: dict[int, Collect]) -> None:
    while await service.fire_due(lambda lead: Inbox(inbox, lead.user_id), worker="w"):
        pass


async def test_message_broadcast_report(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    users = list(range(1, 9))
    await seed_hot(service, users)  # all at hot-2, a 2-hour wait pending
    await service.handle(LeadKey("telegram", 8), Stop(), Collect())  # never reached
    started = await start(db, mini, name="n", audience=Audience(), message=MESSAGE, now=clock())
    inbox: dict[int, Collect] = {}
    await drain(service, inbox)
    clock.advance(minutes=30)  # before the chain's own 2-hour waits

    def key(user: int) -> LeadKey:
        return LeadKey("telegram", user)

    chat = inbox[1]
    await service.handle(key(1), chat.press("Tell me"), chat)  # pressed -> manager
    await service.handle(key(2), Text("how much?"), Collect())  # replied -> manager
    await service.handle(key(3), Stop(), Collect())  # unsubscribed
    await service.handle(key(4), Blocked("bot was blocked"), Collect())  # blocked
    clock.advance(days=4)  # past the window
    await service.handle(key(5), Text("late answer"), Collect())

    report = await build_broadcast_report(db, mini, started.broadcast_id, timedelta(days=3),
                                          clock())  # fmt: skip
    assert (report.queued, report.reached, report.skipped) == (7, 7, 0)
    assert (report.pressed, report.presses, report.replied, report.reacted) == (1, 1, 1, 2)
    assert (report.unsubscribed, report.blocked) == (1, 1)
    assert report.converted == 2
    assert report.conversions_by_type == {"handed_off": 2}
    assert report.next_steps == {"hot_call": 2}
    data = as_dict(report)
    assert data["reactions"] == {"leads": 2, "pressed": 1, "presses": 1, "replied": 1,
                                 "rate": round(2 / 7, 4)}  # fmt: skip
    assert data["conversions"]["rate"] == round(2 / 7, 4)

    wide = await build_broadcast_report(db, mini, started.broadcast_id, timedelta(days=5),
                                        clock())  # fmt: skip
    assert (wide.replied, wide.converted) == (2, 3)  # lead 5's late answer is inside 5 days


async def test_chain_broadcast_counts_only_what_leads_did(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed_hot(service, [1, 2, 3])
    started = await start(db, mini, name="c", audience=Audience(), chain="comeback", now=clock())
    inbox: dict[int, Collect] = {}
    await drain(service, inbox)
    report = await build_broadcast_report(db, mini, started.broadcast_id, timedelta(days=3),
                                          clock())  # fmt: skip
    assert (report.reached, report.reacted, report.converted) == (3, 0, 0)  # its own steps
    clock.advance(hours=1)
    chat = inbox[2]
    await service.handle(LeadKey("telegram", 2), chat.press("Show me"), chat)  # -> hot_offer
    report = await build_broadcast_report(db, mini, started.broadcast_id, timedelta(days=3),
                                          clock())  # fmt: skip
    assert (report.pressed, report.presses, report.converted) == (1, 0, 1)
    assert report.conversions_by_type == {"offer_shown": 1}
    assert report.next_steps == {"hot_offer": 1}
