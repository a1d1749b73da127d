"""The method's funnel metrics, computed from grouped counts of one cohort of leads.

A *cohort* is the leads who arrived (``leads.created_at``) in the period and match the
filters; everything they did afterwards counts, whenever it happened. That keeps each rate
a share of the same people: of the leads who came from ``vk_ads`` last week, how many left
a contact, clicked an offer, paid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from bot.reports.spend import Spend
from bot.scenario.funnel import Funnel
from bot.time_phrases import day_start
from bot.vocabulary import EventType, OrderKind, SubscriptionState
from storage.criteria import NONE_LABEL, LeadFilter
from storage.db import Database
from storage.reach import expand, path_groups
from storage.read_models import (
    EventGroup,
    LeadGroup,
    OrderRow,
    StepGroup,
    SubscriptionRow,
    dropped_groups,
    event_groups,
    lead_groups,
    order_rows,
    step_groups,
    subscription_rows,
)

ORDER_PAID = EventType.ORDER_PAID
TIERS = ("tripwire", "core", "upsell")
# Event type -> the Metrics field that counts distinct leads with it.
LEAD_EVENTS: dict[str, str] = {
    EventType.STARTED: "leads",
    EventType.CONTACT_SHARED: "contacts",
    EventType.LEAD_MAGNET_DELIVERED: "lead_magnets",
    EventType.GATE_SHOWN: "gates_shown",
    EventType.GATE_JOINED: "gates_joined",
    EventType.OFFER_SHOWN: "offers_shown",
    EventType.OFFER_CLICKED: "offers_clicked",
    EventType.HANDED_OFF: "handoffs",
    ORDER_PAID: "buyers",
    EventType.OFFER_IN_DOUBT: "offers_in_doubt",
    EventType.DELIVERY_UNKNOWN: "sends_in_doubt",
}
TIERED_EVENTS: dict[str, str] = {
    EventType.OFFER_SHOWN: "shown_by_tier",
    EventType.OFFER_CLICKED: "clicked_by_tier",
}


def label(value: str | None) -> str:
    """How a missing source or segment is shown (and typed in ``--source``/``--segment``)."""
    return value if value is not None else NONE_LABEL


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class Metrics:
    """Counts of distinct leads, except ``orders`` (order events) and money.

    ``offers_shown`` counts offers delivered; an offer whose send is in doubt (a time-out,
    a crash mid-send: it may or may not have arrived) is in ``offers_in_doubt`` instead, and
    ``sends_in_doubt`` counts leads with any message in doubt.
    """

    leads: int = 0
    qualified: int = 0
    not_client: int = 0
    contacts: int = 0
    lead_magnets: int = 0
    gates_shown: int = 0  # asked to join a lead magnet's channel
    gates_joined: int = 0  # joined after the ask, and got the lead magnet
    offers_shown: int = 0
    offers_in_doubt: int = 0
    sends_in_doubt: int = 0
    offers_clicked: int = 0
    handoffs: int = 0
    buyers: int = 0
    orders: int = 0
    shown_by_tier: dict[str, int] = field(default_factory=dict)
    clicked_by_tier: dict[str, int] = field(default_factory=dict)
    orders_by_tier: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)
    # Stars subscriptions (the profit-maximiser rung sold as ``subscription: monthly``):
    # started, still on (renewing, or renewal turned off but paid up), turned off by the bot,
    # given up (a period ended unpaid past the grace), renewal payments, the money of first
    # payments and renewals, and what one period of those still renewing brings (MRR).
    subscriptions: int = 0
    subscriptions_active: int = 0
    subscriptions_canceled: int = 0
    subscriptions_churned: int = 0
    renewals: int = 0
    recurring_revenue: dict[str, Decimal] = field(default_factory=dict)
    mrr: dict[str, Decimal] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    spend: Spend | None = None

    @property
    def cr_qualified(self) -> float | None:
        """CR, lead → qualified: the share of leads placed in a client segment."""
        return ratio(self.qualified, self.leads)

    @property
    def cr_contact(self) -> float | None:
        return ratio(self.contacts, self.leads)

    @property
    def cr_lead_magnet(self) -> float | None:
        return ratio(self.lead_magnets, self.leads)

    @property
    def cr_gate(self) -> float | None:
        """The subscription gate's conversion: joined the channel / asked to join."""
        return ratio(self.gates_joined, self.gates_shown)

    @property
    def offer_ctr(self) -> float | None:
        """CTR of offers: leads who pressed the buy button among those who saw an offer."""
        return ratio(self.offers_clicked, self.offers_shown)

    @property
    def cr1(self) -> float | None:
        """CR1, the method's conversion into a sale: leads who paid at least once / leads."""
        return ratio(self.buyers, self.leads)

    @property
    def churn_rate(self) -> float | None:
        """Subscriptions given up / subscriptions started (of the cohort's, so far)."""
        return ratio(self.subscriptions_churned, self.subscriptions)

    @property
    def cpl(self) -> Decimal | None:
        """CPL, cost per lead: spend / leads."""
        return _per(self.spend, self.leads)

    @property
    def cpo(self) -> Decimal | None:
        """CPO, cost per order (sale): spend / orders."""
        return _per(self.spend, self.orders)


def _per(spend: Spend | None, count: int) -> Decimal | None:
    if spend is None or not count:
        return None
    return (spend.amount / count).quantize(Decimal("0.01"))


@dataclass(slots=True)
class Cohort:
    """The grouped rows one report is built from (a few queries, whatever the lead count)."""

    leads: list[LeadGroup]
    events: list[EventGroup]
    tiers: list[EventGroup]
    steps: list[StepGroup]
    orders: list[OrderRow]
    dropped: list[StepGroup] = field(default_factory=list)  # who dropped at each step
    subscriptions: list[SubscriptionRow] = field(default_factory=list)

    def sources(self) -> list[str]:
        """Source labels, most leads first."""
        counts: dict[str, int] = {}
        for g in self.leads:
            counts[label(g.source)] = counts.get(label(g.source), 0) + g.leads
        return sorted(counts, key=lambda s: (-counts[s], s))


async def load_cohort(db: Database, f: LeadFilter, with_steps: bool = True) -> Cohort:
    """The cohort's grouped counts in two queries: its leads grouped by the path they took
    (``storage.reach``: one row per lead, not the event log) and its orders."""
    async with db.session() as session:
        grouped = expand(
            await path_groups(session, f, with_dropped=with_steps),
            LEAD_EVENTS,
            [*TIERED_EVENTS, ORDER_PAID],
        )
        return Cohort(
            leads=grouped.leads,
            events=grouped.events,
            tiers=grouped.tiers,
            steps=grouped.steps if with_steps else [],
            orders=await order_rows(session, f, ORDER_PAID),
            dropped=grouped.dropped if with_steps else [],
            subscriptions=await subscription_rows(session, f) if with_steps else [],
        )


async def scan_cohort(db: Database, f: LeadFilter, with_steps: bool = True) -> Cohort:
    """The same counts straight from the event log (a scan of every event of the cohort):
    the definition ``load_cohort`` is held to by the tests."""
    async with db.session() as session:
        return Cohort(
            leads=await lead_groups(session, f),
            events=await event_groups(session, f, LEAD_EVENTS),
            tiers=await event_groups(session, f, [*TIERED_EVENTS, ORDER_PAID], by_tier=True),
            steps=await step_groups(session, f) if with_steps else [],
            orders=await order_rows(session, f, ORDER_PAID),
            dropped=await dropped_groups(session, f) if with_steps else [],
            subscriptions=await subscription_rows(session, f) if with_steps else [],
        )


Keep = Callable[[str | None, str | None], bool]


def everyone(_source: str | None, _segment: str | None) -> bool:
    return True


def of_source(source: str) -> Keep:
    return lambda src, _seg: label(src) == source


def metrics(cohort: Cohort, not_client: frozenset[str], keep: Keep = everyone) -> Metrics:
    """Sum the cohort's groups that ``keep`` accepts (by source and segment) into metrics."""
    m = Metrics()
    for g in cohort.leads:
        if not keep(g.source, g.segment):
            continue
        m.segments[label(g.segment)] = m.segments.get(label(g.segment), 0) + g.leads
        m.stages[g.stage] = m.stages.get(g.stage, 0) + g.leads
        if g.segment in not_client:
            m.not_client += g.leads
        elif g.segment is not None:
            m.qualified += g.leads
    for e in cohort.events:
        if keep(e.source, e.segment):
            name = LEAD_EVENTS[e.type]
            setattr(m, name, getattr(m, name) + e.leads)
    for e in cohort.tiers:
        if keep(e.source, e.segment) and e.type in TIERED_EVENTS:
            by_tier: dict[str, int] = getattr(m, TIERED_EVENTS[e.type])
            tier = e.tier or "?"
            by_tier[tier] = by_tier.get(tier, 0) + e.leads
    for order in cohort.orders:
        if keep(order.source, order.segment):
            _add_order(m, order)
    for sub in cohort.subscriptions:
        if keep(sub.source, sub.segment):
            _add_subscription(m, sub)
    # The engine logs offer_shown when it decides to show one; a send in doubt is not "shown".
    m.offers_shown = max(0, m.offers_shown - m.offers_in_doubt)
    return m


def _add_order(m: Metrics, order: OrderRow) -> None:
    m.orders += 1
    tier = str(order.payload.get("tier") or "?")
    m.orders_by_tier[tier] = m.orders_by_tier.get(tier, 0) + 1
    kind = order.payload.get("kind")
    if kind == OrderKind.RENEWAL:
        m.renewals += 1
    try:
        amount = Decimal(str(order.payload.get("amount", 0)))
    except InvalidOperation:
        return  # a malformed amount still counts as an order, not as money
    if amount.is_finite():
        currency = str(order.payload.get("currency") or "RUB")
        m.revenue[currency] = m.revenue.get(currency, Decimal(0)) + amount
        if kind in {OrderKind.SUBSCRIPTION, OrderKind.RENEWAL}:
            m.recurring_revenue[currency] = m.recurring_revenue.get(currency, Decimal(0)) + amount


def _add_subscription(m: Metrics, sub: SubscriptionRow) -> None:
    m.subscriptions += 1
    if sub.state == SubscriptionState.CHURNED:
        m.subscriptions_churned += 1
        return
    m.subscriptions_active += 1
    if sub.state == SubscriptionState.CANCELED:
        m.subscriptions_canceled += 1
    else:
        m.mrr[sub.currency] = m.mrr.get(sub.currency, Decimal(0)) + sub.amount


def not_client_segments(funnel: Funnel | None) -> frozenset[str]:
    if funnel is None:
        return frozenset()
    return frozenset(k for k, s in funnel.scenario.segments.items() if s.not_client)


def with_spend(m: Metrics, spend: Spend | None) -> Metrics:
    return replace(m, spend=spend)


def total_spend(spends: dict[str, Spend], sources: list[str]) -> Spend | None:
    """All sources' spend together, when it is in one currency (else there is no total)."""
    chosen = [spends[s] for s in sources if s in spends]
    currencies = {s.currency for s in chosen}
    if not chosen or len(currencies) != 1:
        return None
    return Spend(sum((s.amount for s in chosen), Decimal(0)), currencies.pop())


# --- /stats: today, 7 and 30 days ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    since: datetime
    leads: int
    qualified: int
    contacts: int
    by_segment: dict[str, int]


@dataclass(frozen=True, slots=True)
class Stats:
    now: datetime
    windows: list[Window]


async def stats(
    db: Database,
    now: datetime,
    funnel: Funnel | None = None,
    tz: tzinfo = UTC,
    channel: str | None = None,
) -> Stats:
    """New leads, qualified, contacts and segments for today, 7 and 30 days (cohorts)."""
    today = day_start(now.astimezone(tz).date(), tz)
    windows = [("today", today), ("7d", now - timedelta(days=7)), ("30d", now - timedelta(days=30))]
    skip = not_client_segments(funnel)
    out = []
    for name, since in windows:
        f = LeadFilter(since=since, channel=channel)
        m = metrics(await load_cohort(db, f, with_steps=False), skip)
        out.append(Window(name, since, m.leads, m.qualified, m.contacts, m.segments))
    return Stats(now, out)
