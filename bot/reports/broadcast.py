"""``leadbot report --broadcast ID``: what one mailing reached and what it caused.

Each lead is measured in its own window, from the moment the broadcast reached it, so a
mailing sent slowly over a day (quiet hours, limits) is judged fairly. Presses on the
broadcast's own buttons carry its id and always count; the rest is read from the leads'
events inside their window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.broadcasts.audience import describe
from bot.broadcasts.paid import MAX_RATE, PER_STAR, stars
from bot.reports.periods import idle, local
from bot.scenario.funnel import Funnel
from bot.vocabulary import EventType
from storage import broadcast_queries as q
from storage import broadcasts
from storage.db import Database

REPLIES = (EventType.MESSAGE_RECEIVED, EventType.ANSWER_GIVEN, EventType.REPLIED)
LOSSES = (EventType.UNSUBSCRIBED, EventType.BLOCKED)
CONVERSIONS = (
    EventType.STEP_SENT,
    EventType.OFFER_SHOWN,
    EventType.OFFER_CLICKED,
    EventType.CONTACT_SHARED,
    EventType.HANDED_OFF,
    EventType.ORDER_PAID,
)
#: Conversion events that a chain broadcast produces by itself at its own steps.
SELF_MADE = (EventType.STEP_SENT, EventType.OFFER_SHOWN)
#: Events that mean a lead reached a step of a chain (for the per-step table).
STEP_REACHES = (EventType.STEP_SENT, EventType.OFFER_SHOWN, EventType.HANDED_OFF)
DEFAULT_WINDOW = timedelta(days=3)


class NoBroadcast(LookupError):
    """No broadcast with that id."""


@dataclass(slots=True)
class BroadcastReport:
    id: int
    name: str
    kind: str
    chain: str | None
    state: str
    created_at: datetime
    starts_at: datetime
    audience: dict[str, Any]
    window: timedelta
    generated_at: datetime
    queued: int = 0  # copies put in the queue
    reached: int = 0
    skipped: int = 0
    first_sent: datetime | None = None
    last_sent: datetime | None = None
    presses: int = 0
    pressed: int = 0  # leads who pressed a button of the broadcast
    replied: int = 0
    reacted: int = 0
    unsubscribed: int = 0
    blocked: int = 0
    converted: int = 0
    conversions_by_type: dict[str, int] = field(default_factory=dict)
    next_steps: dict[str, int] = field(default_factory=dict)
    #: A paid broadcast's terms and spend (messages at 0.1 Star); None for an ordinary one.
    paid_rate: float | None = None
    paid_cap: int | None = None
    paid_spent: int = 0
    stop_reason: str | None = None

    @property
    def paid(self) -> bool:
        return self.paid_cap is not None

    def rate(self, n: int) -> float | None:
        return n / self.reached if self.reached else None


async def build_broadcast_report(
    db: Database, funnel: Funnel, broadcast_id: int, window: timedelta, now: datetime
) -> BroadcastReport:
    async with db.session() as session:
        row = await broadcasts.get(session, broadcast_id)
        if row is None:
            raise NoBroadcast(broadcast_id)
        report = BroadcastReport(
            id=row.id, name=row.name, kind=row.kind, chain=row.chain, state=row.state,
            created_at=row.created_at, starts_at=row.starts_at, audience=dict(row.audience),
            window=window, generated_at=now, stop_reason=row.stop_reason,
        )  # fmt: skip
        if row.paid:
            report.paid_rate, report.paid_cap = row.paid_rate, row.paid_cap or 0
            report.paid_spent = row.paid_spent
        done = await broadcasts.progress(session, broadcast_id)
        assert done is not None
        report.queued = done.total
        report.skipped = done.skipped
        reached = {r.lead_id: r for r in await q.reached(session, broadcast_id)}
        report.presses = await q.count_of_type(session, broadcast_id, EventType.BUTTON_PRESSED)
        later: list[q.LaterEvent] = []
        if reached:
            later = list(
                await q.events_after(
                    session,
                    broadcast_id,
                    (EventType.BUTTON_PRESSED, *REPLIES, *LOSSES, *CONVERSIONS),
                    min(r.event_id for r in reached.values()),
                    max(r.at for r in reached.values()) + window,
                )
            )
    report.reached = len(reached)
    if reached:
        report.first_sent = min(r.at for r in reached.values())
        report.last_sent = max(r.at for r in reached.values())
    own_steps = set(funnel.chains.get(row.chain or "", [])) if row.chain else set()
    _count_reactions(report, reached, later, own_steps)
    return report


def _count_reactions(
    report: BroadcastReport,
    reached: dict[int, q.Reached],
    later: list[q.LaterEvent],
    own_steps: set[str],
) -> None:
    pressed: set[int] = set()
    replied: set[int] = set()
    lost: dict[str, set[int]] = defaultdict(set)
    converted: dict[str, set[int]] = defaultdict(set)
    steps: dict[str, set[int]] = defaultdict(set)
    for e in later:
        sent = reached[e.lead_id]
        if e.id <= sent.event_id:
            continue
        if e.type == EventType.BUTTON_PRESSED and e.broadcast == report.id:
            pressed.add(e.lead_id)  # its own buttons count whenever they are pressed
            continue
        if e.at >= sent.at + report.window:
            continue
        if e.type == EventType.BUTTON_PRESSED:
            if e.step in own_steps:  # a button of the chain the broadcast started
                pressed.add(e.lead_id)
        elif e.type in REPLIES:
            replied.add(e.lead_id)
        elif e.type in LOSSES:
            lost[e.type].add(e.lead_id)
        elif not (e.type in SELF_MADE and e.step in own_steps):
            converted[e.type].add(e.lead_id)
            if e.step and e.type in STEP_REACHES:
                steps[e.step].add(e.lead_id)
    report.pressed, report.replied = len(pressed), len(replied)
    report.reacted = len(pressed | replied)
    report.unsubscribed = len(lost[EventType.UNSUBSCRIBED])
    report.blocked = len(lost[EventType.BLOCKED])
    report.converted = len(set().union(*converted.values())) if converted else 0
    report.conversions_by_type = {t: len(converted[t]) for t in CONVERSIONS if converted[t]}
    report.next_steps = dict(sorted(((s, len(v)) for s, v in steps.items()),
                                    key=lambda kv: (-kv[1], kv[0])))  # fmt: skip


# --- views -------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _ratio(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def as_dict(r: BroadcastReport) -> dict[str, Any]:
    """The JSON form; rates are fractions of ``reached``."""
    return {
        "generated_at": r.generated_at.isoformat(),
        "broadcast": {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "chain": r.chain,
            "state": r.state,
            "created_at": _iso(r.created_at),
            "starts_at": _iso(r.starts_at),
            "audience": r.audience,
        },
        "window_hours": r.window.total_seconds() / 3600,
        "queued": r.queued,
        "reached": r.reached,
        "skipped": r.skipped,
        "first_sent": _iso(r.first_sent),
        "last_sent": _iso(r.last_sent),
        "reactions": {
            "leads": r.reacted,
            "pressed": r.pressed,
            "presses": r.presses,
            "replied": r.replied,
            "rate": _ratio(r.rate(r.reacted)),
        },
        "unsubscribed": r.unsubscribed,
        "blocked": r.blocked,
        "paid": _paid(r),
        "conversions": {
            "leads": r.converted,
            "rate": _ratio(r.rate(r.converted)),
            "by_type": r.conversions_by_type,
            "next_steps": r.next_steps,
        },
    }


def _paid(r: BroadcastReport) -> dict[str, Any] | None:
    if not r.paid:
        return None
    return {
        "rate": r.paid_rate,
        "messages": r.paid_spent,
        "stars_spent": stars(r.paid_spent),
        "stars_cap": stars(r.paid_cap or 0),
        "stop_reason": r.stop_reason,
    }


def csv_rows(r: BroadcastReport) -> Iterator[tuple[str, Any]]:
    yield ("metric", "value")
    for key, value in _flat(as_dict(r)):
        yield (key, "" if value is None else value)


def _flat(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield (f"{prefix}{key}", value)


def _pct(n: int, r: BroadcastReport) -> str:
    rate = r.rate(n)
    return f"{n} ({rate * 100:.1f}%)" if rate is not None else str(n)


def _paid_facts(r: BroadcastReport) -> list[tuple[str, str]]:
    if not r.paid:
        return []
    spent = f"{stars(r.paid_spent)} of {stars(r.paid_cap or 0)} ({r.paid_spent} message(s))"
    facts = [("paid", f"up to {r.paid_rate or MAX_RATE:g} messages/s"), ("Stars spent", spent)]
    if r.reacted:
        facts.append(("Stars per reacting lead", f"{r.paid_spent / PER_STAR / r.reacted:.2f}"))
    if r.stop_reason and r.state == "stopped":
        facts.append(("stopped", r.stop_reason))
    return facts


def broadcast_view(r: BroadcastReport, tz: tzinfo) -> RenderableType:
    title = f"Broadcast #{r.id} «{r.name}» ({r.kind}{f': {r.chain}' if r.chain else ''}, {r.state})"
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    sent = f"{local(r.first_sent, tz)} – {local(r.last_sent, tz)}" if r.first_sent else "not yet"
    for name, value in (
        ("audience", describe(r.audience)),
        ("created", local(r.created_at, tz)),
        ("sent", sent),
        ("window", f"{idle(r.window)} after each lead got it"),
        *_paid_facts(r),
    ):
        facts.add_row(Text(name), Text(str(value)))
    table = Table(title="Effect", title_justify="left")
    table.add_column("metric")
    table.add_column("leads", justify="right")
    rows = [
        ("Queued", str(r.queued)),
        ("Reached", str(r.reached)),
        ("Skipped at send time", str(r.skipped)),
        ("Reacted (pressed or replied)", _pct(r.reacted, r)),
        ("  pressed its buttons", f"{_pct(r.pressed, r)}, {r.presses} press(es)"),
        ("  replied", _pct(r.replied, r)),
        ("Unsubscribed", _pct(r.unsubscribed, r)),
        ("Blocked the bot", _pct(r.blocked, r)),
        ("Moved on in the funnel", _pct(r.converted, r)),
    ]
    rows += [(f"  {t}", str(n)) for t, n in r.conversions_by_type.items()]
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    parts: list[RenderableType] = [Text(title, style="bold"), facts, table]
    if r.next_steps:
        steps = Table(title="Next steps reached", title_justify="left")
        steps.add_column("step")
        steps.add_column("leads", justify="right")
        for step, n in r.next_steps.items():
            steps.add_row(Text(step), Text(str(n)))
        parts.append(steps)
    return Group(*parts)
