"""Rich tables for people at a terminal: the lead list, a lead's card, the funnel report.

Every value from the database goes in as ``Text`` so a prospect's ``[bold]`` stays literal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import tzinfo
from decimal import Decimal

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.reports.leads import LeadCard, LeadPage
from bot.reports.metrics import TIERS, Metrics
from bot.reports.periods import idle, local
from bot.reports.report import Report
from bot.reports.steps import DroppedLead, FunnelSection, StepCount
from bot.scenario.markup import strip_tags
from storage.criteria import NONE_LABEL

DASH = "—"


def console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables to 80 columns when output is piped."""
    out = Console(stderr=stderr)
    return out if out.is_terminal else Console(stderr=stderr, width=200, no_color=True)


def _t(value: object) -> Text:
    return Text("" if value is None else str(value))


def many(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def money(amount: Decimal | None, currency: str | None) -> str:
    return DASH if amount is None else f"{amount:,.2f} {currency or ''}".strip()


def plain(html: str) -> str:
    """Scenario texts are Telegram HTML; a terminal wants them without tags."""
    return " ".join(strip_tags(html).split())


# --- leads --------------------------------------------------------------------------------


NARROW = 100  # columns; below this the lead table keeps what a manager scans for


def leads_table(page: LeadPage, tz: tzinfo, width: int | None = None) -> RenderableType:
    """The lead list; in a narrow terminal (80 columns) stage, contact and flags give way
    and long words are cut with "…" rather than folded letter by letter."""
    rows = page.rows
    if not rows:
        return Text("no leads match")
    shown = many(len(rows), "lead")
    if page.total > len(rows):
        shown = f"{len(rows)} of {page.total} leads"
    narrow = width is not None and width < NARROW
    table = Table(title=f"{shown}, newest first", title_justify="left")
    names = ["id", "created", "name", "source", "segment", "stage", "status", "step",
             "contact", "flags"]  # fmt: skip
    if narrow:
        names = [n for n in names if n not in {"stage", "contact", "flags"}]
        table.padding = (0, 1, 0, 0)
    for name in names:
        fixed = name in {"id", "created"}
        table.add_column(
            name,
            justify="right" if name == "id" else "left",
            no_wrap=fixed or narrow,
            overflow="ellipsis" if narrow else "fold",
        )
    for r in rows:
        cells = {
            "id": r.id,
            "created": local(r.created_at, tz)[5:] if narrow else local(r.created_at, tz),
            "name": r.who,
            "source": r.source or NONE_LABEL,
            "segment": r.segment or NONE_LABEL,
            "stage": r.stage,
            "status": r.status,
            "step": r.step or DASH,
            "contact": "yes" if r.has_contact else "no",
            "flags": ", ".join(r.flags),
        }
        table.add_row(*(_t(cells[name]) for name in names))
    return table


def _who(card: LeadCard) -> str:
    if card.user_id < 0:  # `leadbot forget` replaces the account id with -lead id
        return f"{card.lead.who} · {card.lead.channel} · personal data erased"
    language = f" · {card.language}" if card.language else ""
    return f"{card.lead.who} · {card.lead.channel} user {card.user_id}{language}"


def lead_card_view(card: LeadCard, tz: tzinfo) -> RenderableType:
    r = card.lead
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    contact = ", ".join(x for x in (r.phone, r.email) if x) or "no"
    lines: list[tuple[str, object]] = [
        ("who", _who(card)),
        ("source", r.source or DASH),
        ("arrived", local(r.created_at, tz)),
        ("last seen", local(card.last_seen_at, tz) or DASH),
        ("segment", r.segment or "not classified yet"),
        ("readiness", card.readiness or DASH),
        ("contact", contact),
        ("stage", r.stage),
        ("status", r.status),
        ("step", r.step or DASH),
        ("flags", ", ".join(r.flags) or DASH),
    ]  # fmt: skip
    if card.summary:
        lines.append(("summary", card.summary))
    c = card.classification
    if c is not None:
        conf = f"confidence {c.confidence}" if c.confidence is not None else "confidence ?"
        how = f" by {c.path}" if c.path else ""
        lines.append(("classified", f"{c.segment} ({conf}{how}) at {local(c.at, tz)}"))
        lines.append(("reason", c.reason or DASH))
    for name, value in lines:
        facts.add_row(_t(name), _t(value))
    parts: list[RenderableType] = [Text(f"Lead #{r.id}", style="bold"), facts]
    if card.answers:
        answers = Table(title="Answers", title_justify="left")
        for name in ("key", "question", "answer"):
            answers.add_column(name, overflow="fold")
        for a in card.answers:
            answers.add_row(_t(a.key), _t(plain(a.question)), _t(a.answer))
        parts.append(answers)
    timeline = Table(title=f"Timeline ({len(card.timeline)} events)", title_justify="left")
    for name in ("time", "event", "step", "details"):
        timeline.add_column(name, overflow="fold")
    for e in card.timeline:
        timeline.add_row(_t(local(e.at, tz, seconds=True)), _t(e.type), _t(e.step or ""),
                         _t(e.text))  # fmt: skip
    parts.append(timeline)
    return Group(*parts)


# --- the report ---------------------------------------------------------------------------


def _tiers(m: Metrics, attr: str) -> str:
    by_tier: dict[str, int] = getattr(m, attr)
    return " / ".join(str(by_tier.get(t, 0)) for t in TIERS)


def _amounts(amounts: dict[str, Decimal]) -> str:
    return ", ".join(money(v, k) for k, v in sorted(amounts.items())) or "0"


def _revenue(m: Metrics) -> str:
    return _amounts(m.revenue)


#: Shown only when a subscription gate asked someone to join (most funnels have none).
GATE_ROWS: list[tuple[str, Callable[[Metrics], object]]] = [
    ("Gate: asked to join", lambda m: m.gates_shown),
    ("Gate: joined", lambda m: m.gates_joined),
    ("CR gate ask → join", lambda m: pct(m.cr_gate)),
]
#: The ladder's subscription rung, shown only when someone subscribed (most funnels sell
#: none): started, still on, renewal turned off, given up, renewals and their money.
SUBSCRIPTION_ROWS: list[tuple[str, Callable[[Metrics], object]]] = [
    ("Subscriptions: new", lambda m: m.subscriptions),
    ("  active (renewal off)", lambda m: f"{m.subscriptions_active} ({m.subscriptions_canceled})"),
    ("  renewals", lambda m: m.renewals),
    ("  churned", lambda m: m.subscriptions_churned),
    ("  churn rate", lambda m: pct(m.churn_rate)),
    ("  recurring revenue", lambda m: _amounts(m.recurring_revenue)),
    ("  MRR (renewing)", lambda m: _amounts(m.mrr)),
]
METRIC_ROWS: list[tuple[str, Callable[[Metrics], object]]] = [
    ("Leads (started)", lambda m: m.leads),
    ("Qualified", lambda m: m.qualified),
    ("CR lead → qualified", lambda m: pct(m.cr_qualified)),
    ("Not our client", lambda m: m.not_client),
    ("Contacts", lambda m: m.contacts),
    ("CR lead → contact", lambda m: pct(m.cr_contact)),
    ("Lead magnets", lambda m: m.lead_magnets),
    ("CR lead → lead magnet", lambda m: pct(m.cr_lead_magnet)),
    ("Offers shown", lambda m: m.offers_shown),
    ("Offers in doubt", lambda m: m.offers_in_doubt),
    ("  tripwire / core / upsell", lambda m: _tiers(m, "shown_by_tier")),
    ("Offers clicked", lambda m: m.offers_clicked),
    ("  tripwire / core / upsell", lambda m: _tiers(m, "clicked_by_tier")),
    ("Offer CTR", lambda m: pct(m.offer_ctr)),
    ("Handed to a manager", lambda m: m.handoffs),
    ("Buyers", lambda m: m.buyers),
    ("Orders", lambda m: m.orders),
    ("CR1 lead → buyer", lambda m: pct(m.cr1)),
    ("Leads with a send in doubt", lambda m: m.sends_in_doubt),
    ("Revenue", _revenue),
    ("Spend", lambda m: money(m.spend.amount, m.spend.currency) if m.spend else DASH),
    ("CPL", lambda m: money(m.cpl, m.spend.currency if m.spend else None)),
    ("CPO", lambda m: money(m.cpo, m.spend.currency if m.spend else None)),
]


def metrics_table(report: Report) -> Table:
    table = Table(title="Metrics", title_justify="left")
    table.add_column("metric")
    columns = [("all", report.total), *report.by_source.items()]
    for name, _ in columns:
        table.add_column(name, justify="right")
    gated = any(m.gates_shown for _, m in columns)
    rows = list(METRIC_ROWS)
    if any(m.subscriptions for _, m in columns):
        at = next(i for i, (title, _) in enumerate(rows) if title == "Revenue") + 1
        rows[at:at] = SUBSCRIPTION_ROWS
    for title, get in rows + (GATE_ROWS if gated else []):
        cells = [_t(get(m)) for _, m in columns]
        table.add_row(_t(title), *cells)
    return table


def _count(c: StepCount) -> str:
    return f"{c.reached} ({pct(c.from_start)})" if c.reached else "0"


def section_table(section: FunnelSection) -> Table:
    if section.segment is None:
        title = f"Interview: {many(section.entered, 'lead')} started"
    else:
        title = f"Segment {section.segment} «{section.title}»: {many(section.entered, 'lead')}"
    table = Table(title=title, title_justify="left")
    for name in ("step", "kind", "reached", "of previous", "of start", "dropped"):
        table.add_column(name, justify="left" if name in {"step", "kind"} else "right")
    sources = list(section.steps[0].by_source) if section.steps else []
    for src in sources:
        table.add_column(src, justify="right")
    for st in section.steps:
        c = st.total
        per_source = [_t(_count(st.by_source[s])) for s in sources]
        table.add_row(_t(st.step), _t(st.kind), _t(c.reached), _t(pct(c.from_previous)),
                      _t(pct(c.from_start)), _t(c.dropped or ""), *per_source)  # fmt: skip
    return table


def _period(report: Report, tz: tzinfo) -> str:
    since = local(report.since, tz) if report.since else "the beginning"
    until = local(report.until, tz) if report.until else "now"
    extra = "".join(f", {k} {v}" for k, v in report.filters.items())
    return f"Leads who arrived from {since} to {until} ({tz}){extra}"


def report_view(report: Report, tz: tzinfo) -> RenderableType:
    parts: list[RenderableType] = [Text(_period(report, tz), style="bold"), metrics_table(report)]
    parts += [section_table(s) for s in report.funnel]
    parts.append(Text(
        "reached: leads with any event at the step; (x%): of those who entered the chain; "
        "dropped: stopped here, nothing scheduled, not completed, no manager "
        "(--dropped STEP lists them); of previous: over the busiest step leading here",
        style="dim",
    ))  # fmt: skip
    return Group(*parts)


def dropped_table(step: str, rows: Iterable[DroppedLead], tz: tzinfo) -> RenderableType:
    rows = list(rows)
    if not rows:
        return Text(f"no leads stopped at {step}")
    table = Table(title=f"{many(len(rows), 'lead')} stopped at {step}, longest silent first",
                  title_justify="left")  # fmt: skip
    for name in ("id", "name", "source", "segment", "status", "contact", "last event", "idle"):
        table.add_column(name, justify="right" if name in {"id", "idle"} else "left")
    for d in rows:
        r = d.lead
        table.add_row(
            _t(r.id), _t(r.who), _t(r.source or NONE_LABEL), _t(r.segment or NONE_LABEL),
            _t(r.status), _t(", ".join(x for x in (r.phone, r.email) if x) or "no"),
            _t(local(d.last_event_at, tz) or DASH), _t(idle(d.idle) if d.idle else DASH),
        )  # fmt: skip
    return table
