"""Stars subscriptions on a real database: payments, renewals, churn once, cancelling, the
report's numbers (SQLite, and PostgreSQL when TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.engine.types import Paid, Start
from bot.managers.subscriptions import Subscriptions
from bot.qualification import OfflineQualifier
from bot.reports.report import as_dict, build_report
from bot.scenario.loader import load_funnel
from bot.scenario.model import SUBSCRIPTION_PERIOD
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.criteria import LeadFilter
from storage.db import Database
from storage.models import Event, Order, Subscription
from tests.conftest import DATA, Clock

ANN, BEN = LeadKey("telegram", 1), LeadKey("telegram", 2)


async def subscribe(service: FunnelService, key: LeadKey, charge: str, clock: Clock) -> int:
    """Up to the club offer, then the first payment; returns the lead's id."""
    chat = Collect()
    await service.handle(key, Start("ads", "Ann"), chat)
    await service.handle(key, chat.press("Espresso"), chat)
    assert await service.skip_wait(key)
    await service.fire_due(lambda lead: chat, worker="test")
    result = await service.handle(key, chat.press("Join the club"), chat)
    assert chat.sent[-1].invoice is not None and chat.sent[-1].invoice.period
    ends = clock.now + SUBSCRIPTION_PERIOD
    await service.handle(key, Paid("offer:club", 250, "XTR", charge, True, True, ends), chat)
    return result.lead_id


async def test_renewal_churn_cancel_and_report(db: Database, clock: Clock) -> None:
    funnel = load_funnel(DATA / "club.yaml")
    service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier(), clock)
    start = clock.now
    ann = await subscribe(service, ANN, "ann-1", clock)
    ben = await subscribe(service, BEN, "ben-1", clock)
    renewed_until = start + 2 * SUBSCRIPTION_PERIOD
    chat = Collect()
    renewal = Paid("offer:club", 250, "XTR", "ann-2", True, False, renewed_until)
    await service.handle(ANN, renewal, chat)
    assert chat.sent[-1].text.startswith("Your subscription «Tasting club» is renewed")

    subscriptions = Subscriptions(service)
    ben_chat = Collect()
    done = await subscriptions.cancel(ben, "Maria (@maria)", lambda lead: ben_chat)
    assert ben_chat.canceled == {"ben-1"} and [s.charge_id for s in done.canceled] == ["ben-1"]
    again = await subscriptions.cancel(ben, "Maria (@maria)", lambda lead: ben_chat)
    assert (again.found, again.active, again.canceled) == (True, 0, ())
    assert not (await subscriptions.cancel(999, "Maria", lambda lead: ben_chat)).found

    async with db.session() as session:
        rows = {s.charge_id: s for s in (await session.execute(select(Subscription))).scalars()}
        orders = [(o.charge_id, o.kind, o.amount) for o in
                  (await session.execute(select(Order).order_by(Order.id))).scalars()]  # fmt: skip
    assert orders == [("ann-1", "subscription", Decimal(250)), ("ben-1", "subscription",
                      Decimal(250)), ("ann-2", "renewal", Decimal(250))]  # fmt: skip
    assert (rows["ann-1"].renewals, rows["ann-1"].expires_at) == (1, renewed_until)
    assert (rows["ben-1"].state, rows["ben-1"].canceled_by) == ("canceled", "Maria (@maria)")

    # Ben's period ends; within the day of grace nothing churns, past it Ben does, once.
    clock.now = start + SUBSCRIPTION_PERIOD + timedelta(hours=12)
    assert await subscriptions.churn() == 0
    clock.advance(days=1)
    assert await subscriptions.churn() == 1
    assert await subscriptions.churn() == 0
    clock.now = renewed_until + timedelta(days=2)  # Ann did not renew a second time
    assert await subscriptions.churn() == 1

    async with db.session() as session:
        stmt = select(Event.lead_id, Event.type, Event.step, Event.payload).where(
            Event.type.in_(["subscription_canceled", "subscription_churned"])
        )
        logged = [(lead, t, step, p) for lead, t, step, p in await session.execute(stmt)]
    assert [(lead, t, step) for lead, t, step, _ in logged] == [
        (ben, "subscription_canceled", "club"),
        (ben, "subscription_churned", "club"),
        (ann, "subscription_churned", "club"),
    ]
    assert logged[1][3]["canceled"] is True and logged[2][3]["renewals"] == 1

    report = await build_report(db, funnel, LeadFilter(), clock.now)
    m = report.total
    assert (m.subscriptions, m.subscriptions_active, m.subscriptions_churned) == (2, 0, 2)
    assert (m.renewals, m.churn_rate, m.orders, m.buyers) == (1, 1.0, 3, 2)
    assert m.recurring_revenue == {"XTR": Decimal(750)} == m.revenue and m.mrr == {}
    data = as_dict(report)["total"]
    assert data["subscriptions"] == {"started": 2, "active": 0, "canceled": 0, "churned": 2,
                                     "renewals": 1, "churn_rate": 1.0}  # fmt: skip
    assert data["recurring_revenue"] == {"XTR": 750.0}


async def test_a_late_renewal_revives_a_churned_subscription(db: Database, clock: Clock) -> None:
    funnel = load_funnel(DATA / "club.yaml")
    service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier(), clock)
    start = clock.now
    await subscribe(service, ANN, "ann-1", clock)
    clock.advance(days=40)
    assert await Subscriptions(service).churn() == 1
    late = Paid("offer:club", 250, "XTR", "ann-2", True, False, start + 2 * SUBSCRIPTION_PERIOD)
    await service.handle(ANN, late, Collect())
    report = await build_report(db, funnel, LeadFilter(), clock.now)
    m = report.total
    assert (m.subscriptions, m.subscriptions_active, m.subscriptions_churned) == (1, 1, 0)
    assert m.mrr == {"XTR": Decimal(250)} and m.renewals == 1
