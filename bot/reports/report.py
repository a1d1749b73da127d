"""``leadbot report`` as data: metrics in total and per source, and the funnel by step.

Plain dataclasses so the Telegram ``/report`` command can show the same numbers; the
``as_dict``/``csv_rows`` views are the machine-readable forms with stable keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.reports.metrics import (
    TIERS,
    Metrics,
    load_cohort,
    metrics,
    not_client_segments,
    of_source,
    total_spend,
    with_spend,
)
from bot.reports.spend import Spend
from bot.reports.steps import FunnelSection, StepCount, funnel_sections
from bot.scenario.funnel import Funnel
from storage.criteria import LeadFilter
from storage.db import Database

RATES = ("cr_qualified", "cr_contact", "cr_lead_magnet", "cr_gate", "offer_ctr", "cr1")
COUNTS = (
    "leads",
    "qualified",
    "not_client",
    "contacts",
    "lead_magnets",
    "gates_shown",
    "gates_joined",
    "offers_shown",
    "offers_in_doubt",
    "offers_clicked",
    "handoffs",
    "buyers",
    "orders",
    "sends_in_doubt",
)


@dataclass(slots=True)
class Report:
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    filters: dict[str, str]
    total: Metrics
    by_source: dict[str, Metrics]
    funnel: list[FunnelSection]


async def build_report(
    db: Database,
    funnel: Funnel,
    f: LeadFilter,
    now: datetime,
    spend: dict[str, Spend] | None = None,
) -> Report:
    """Everything ``leadbot report`` shows, for the leads who arrived within ``f``'s period."""
    spend = spend or {}
    cohort = await load_cohort(db, f)
    skip = not_client_segments(funnel)
    sources = cohort.sources()
    if f.source is None:  # a source that cost money but brought nobody is worth seeing
        sources += sorted(s for s in spend if s not in sources)
    by_source = {
        src: with_spend(metrics(cohort, skip, of_source(src)), spend.get(src)) for src in sources
    }
    total = with_spend(metrics(cohort, skip), total_spend(spend, sources))
    filters = {
        k: v
        for k, v in (
            ("source", f.source),
            ("segment", f.segment),
            ("channel", f.channel),
            ("language", f.language),
        )
        if v is not None
    }
    return Report(
        generated_at=now,
        since=f.since,
        until=f.until,
        filters=filters,
        total=total,
        by_source=by_source,
        funnel=funnel_sections(cohort, funnel, sources, f.segment),
    )


# --- machine-readable views ---------------------------------------------------------------


def _num(value: Decimal | float | None) -> float | None:
    if value is None:
        return None
    return round(float(value), 4) if isinstance(value, float) else float(value)


def metrics_dict(m: Metrics) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(m, name) for name in COUNTS}
    out["offers_shown_by_tier"] = {t: m.shown_by_tier.get(t, 0) for t in _tiers(m.shown_by_tier)}
    out["offers_clicked_by_tier"] = {
        t: m.clicked_by_tier.get(t, 0) for t in _tiers(m.clicked_by_tier)
    }
    out["orders_by_tier"] = {t: m.orders_by_tier.get(t, 0) for t in _tiers(m.orders_by_tier)}
    out["revenue"] = {cur: _num(amount) for cur, amount in sorted(m.revenue.items())}
    out["subscriptions"] = {
        "started": m.subscriptions,
        "active": m.subscriptions_active,
        "canceled": m.subscriptions_canceled,
        "churned": m.subscriptions_churned,
        "renewals": m.renewals,
        "churn_rate": _num(m.churn_rate),
    }
    out["recurring_revenue"] = {
        cur: _num(amount) for cur, amount in sorted(m.recurring_revenue.items())
    }
    out["mrr"] = {cur: _num(amount) for cur, amount in sorted(m.mrr.items())}
    out["segments"] = dict(sorted(m.segments.items()))
    out["stages"] = dict(sorted(m.stages.items()))
    out["spend"] = _num(m.spend.amount) if m.spend else None
    out["spend_currency"] = m.spend.currency if m.spend else None
    for rate in RATES:
        out[rate] = _num(getattr(m, rate))
    out["cpl"] = _num(m.cpl)
    out["cpo"] = _num(m.cpo)
    return out


def _tiers(found: dict[str, int]) -> list[str]:
    return [*TIERS, *sorted(t for t in found if t not in TIERS)]


def _count_dict(c: StepCount) -> dict[str, Any]:
    return {
        "reached": c.reached,
        "dropped": c.dropped,
        "from_previous": _num(c.from_previous),
        "from_start": _num(c.from_start),
    }


def section_dict(s: FunnelSection) -> dict[str, Any]:
    return {
        "chain": s.chain,
        "segment": s.segment,
        "title": s.title,
        "entered": s.entered,
        "entered_by_source": s.entered_by_source,
        "steps": [
            {
                "step": st.step,
                "kind": st.kind,
                **_count_dict(st.total),
                "by_source": {src: _count_dict(c) for src, c in st.by_source.items()},
            }
            for st in s.steps
        ],
    }


def as_dict(report: Report) -> dict[str, Any]:
    """The JSON form: ``period``, ``filters``, ``total``, ``sources``, ``funnel``."""
    return {
        "generated_at": report.generated_at.isoformat(),
        "period": {
            "since": report.since.isoformat() if report.since else None,
            "until": report.until.isoformat() if report.until else None,
        },
        "filters": report.filters,
        "total": metrics_dict(report.total),
        "sources": [{"source": src, **metrics_dict(m)} for src, m in report.by_source.items()],
        "funnel": [section_dict(s) for s in report.funnel],
    }


CSV_HEADER = ("section", "chain", "segment", "source", "step", "metric", "value")


def csv_rows(report: Report) -> Iterator[tuple[Any, ...]]:
    """The CSV form, one number per row (pivot it in a spreadsheet). An empty source is
    all sources together."""
    yield CSV_HEADER
    for src, m in [("", report.total), *report.by_source.items()]:
        for key, value in metrics_dict(m).items():
            if isinstance(value, dict):
                for sub, n in value.items():
                    yield ("metrics", "", "", src, "", f"{key}.{sub}", _cell(n))
            else:
                yield ("metrics", "", "", src, "", key, _cell(value))
    for s in report.funnel:
        segment = s.segment or ""
        yield ("funnel", s.chain, segment, "", "", "entered", s.entered)
        for src, n in s.entered_by_source.items():
            yield ("funnel", s.chain, segment, src, "", "entered", n)
        for st in s.steps:
            for src, c in [("", st.total), *st.by_source.items()]:
                for key, value in _count_dict(c).items():
                    yield ("funnel", s.chain, segment, src, st.step, key, _cell(value))


def _cell(value: Any) -> Any:
    return "" if value is None else value
