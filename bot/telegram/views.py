"""The lead log as Telegram HTML for admins: /stats, /lead, /report.

The numbers come from ``bot/reports`` (the same as ``leadbot``'s); only the looks are here.
Everything from the database is escaped: a prospect named ``<b>`` stays a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from decimal import Decimal

from aiogram import html

from bot.reports.leads import LeadCard
from bot.reports.metrics import Metrics, Stats
from bot.reports.periods import local
from bot.reports.report import Report
from bot.reports.steps import FunnelSection
from bot.telegram.split import MAX_TEXT, split, visible_text
from storage.criteria import NONE_LABEL

DASH = "—"
TIMELINE_SHOWN = 40  # the newest events in a /lead card; `leadbot lead` shows them all
STEP_WIDTH = 18

#: The admin views' words in Russian (the English word is the key; a missing one shows in
#: English). Picked by ``lang`` as the admin commands are (``Staff.lang``).
RU: dict[str, str] = {
    "today": "сегодня", "7d": "7 дн.", "30d": "30 дн.",
    "new leads": "новые лиды", "qualified": "квалифиц.", "contacts": "контакты",
    "leads": "лиды", "not our client": "не наш клиент", "lead magnets": "лид-магниты",
    "offers shown": "показы офферов", "offers clicked": "клики по офферам",
    "to a manager": "менеджеру", "buyers": "покупатели", "orders": "заказы",
    "revenue": "выручка", "metric": "метрика", "all": "все",
    "subscriptions": "подписки", "renewals": "продления", "churned": "отток",
    "recurring revenue": "регул. выручка",
    "step": "шаг", "reached": "дошли", "of start": "от начала", "dropped": "отвалились",
    "who": "кто", "source": "источник", "arrived": "пришёл", "last seen": "был",
    "segment": "сегмент", "readiness": "готовность", "classified": "классификация",
    "reason": "причина", "contact": "контакт", "stage": "стадия", "status": "статус",
    "flags": "флаги", "summary": "сводка", "Answers": "Ответы", "Timeline": "История",
    "not classified yet": "ещё не классифицирован", "none": "нет",
    "the beginning": "начала",
}  # fmt: skip


def tr(lang: str, word: str) -> str:
    return RU.get(word, word) if lang == "ru" else word


def esc(value: object) -> str:
    """Any value as text inside Telegram HTML (aiogram's ``html.quote``); None is empty.

    The one escape helper of the Telegram edge: alerts, admin replies and notices use it.
    """
    return html.quote("" if value is None else str(value))


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(scenario_html: str, limit: int = 80) -> str:
    """A scenario text (Telegram HTML) as one short plain line."""
    return short(visible_text(scenario_html), limit)


def parts(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Messages to send: ``text`` cut into well-formed pieces Telegram accepts."""
    return split(text, limit) or [esc(DASH)]


def many(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.0f}%"


def money(amounts: dict[str, Decimal]) -> str:
    return ", ".join(f"{v:,.2f} {k}" for k, v in sorted(amounts.items())) or "0"


def profile(card: LeadCard) -> str:
    """The lead's name, linked to the Telegram profile when there is one, and @username."""
    row = card.lead
    name = esc(row.name or f"lead #{row.id}")
    if row.channel == "telegram" and card.user_id > 0:
        name = f'<a href="tg://user?id={card.user_id}">{name}</a>'
    return f"{name} @{esc(row.username)}" if row.username else name


def _lines(rows: Iterable[tuple[str, object]], lang: str = "en") -> list[str]:
    return [f"<b>{esc(tr(lang, k))}:</b> {esc(v)}" for k, v in rows if v not in (None, "")]


def lead_card_html(card: LeadCard, tz: tzinfo, contact_ok: bool, lang: str = "en") -> str:
    """One lead for an admin: facts, answers and the newest events, like ``leadbot lead``."""
    r = card.lead
    contact = ", ".join(x for x in (r.phone, r.email) if x)
    if contact and not contact_ok:
        contact += " (no consent to be contacted: do not use it)"
    c = card.classification
    classified = None
    if c is not None:
        conf = f"confidence {c.confidence}" if c.confidence is not None else "confidence ?"
        how = f" by {c.path}" if c.path else ""
        classified = f"{c.segment} ({conf}{how}) at {local(c.at, tz)}"
    who = f"{r.channel} user {card.user_id}" if card.user_id > 0 else "personal data erased"
    facts = _lines([
        ("who", f"{who}{f' · {card.language}' if card.language else ''}"),
        ("source", r.source or DASH),
        ("arrived", local(r.created_at, tz)),
        ("last seen", local(card.last_seen_at, tz) or DASH),
        ("segment", r.segment or tr(lang, "not classified yet")),
        ("readiness", card.readiness),
        ("classified", classified),
        ("reason", c.reason if c is not None else None),
        ("contact", contact or tr(lang, "none")),
        ("stage", r.stage),
        ("status", r.status),
        ("step", r.step or DASH),
        ("flags", ", ".join(r.flags)),
        ("summary", card.summary),
    ], lang)  # fmt: skip
    out = [f"<b>Lead #{r.id}</b> · {profile(card)}", *facts]
    if card.answers:
        out += ["", f"<b>{tr(lang, 'Answers')}</b>"]
        out += [f"• {esc(plain(a.question))} — {esc(a.answer)}" for a in card.answers]
    shown = card.timeline[-TIMELINE_SHOWN:]
    hidden = len(card.timeline) - len(shown)
    count = f"событий: {len(card.timeline)}" if lang == "ru" else f"{len(card.timeline)} events"
    out += ["", f"<b>{tr(lang, 'Timeline')}</b> ({count})"]
    if hidden:
        out.append(f"…{hidden} earlier: <code>leadbot lead {r.id}</code>")
    for e in shown:
        detail = f" · {esc(e.text)}" if e.text else ""
        step = f" [{esc(e.step)}]" if e.step else ""
        out.append(f"<code>{local(e.at, tz)[5:]}</code> {esc(e.type)}{step}{detail}")
    return "\n".join(out)


def _table(rows: list[list[str]]) -> str:
    """A monospace table: first column left, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        cells = [row[0].ljust(widths[0]), *rest]
        lines.append("  ".join(cells).rstrip())
    return "<pre>" + esc("\n".join(lines)) + "</pre>"


def stats_html(stats: Stats, tz: tzinfo, lang: str = "en") -> str:
    windows = stats.windows
    rows = [["", *(tr(lang, w.name) for w in windows)]]
    rows.append([tr(lang, "new leads"), *(str(w.leads) for w in windows)])
    rows.append([tr(lang, "qualified"), *(str(w.qualified) for w in windows)])
    rows.append([tr(lang, "contacts"), *(str(w.contacts) for w in windows)])
    segments = sorted({s for w in windows for s in w.by_segment}, key=lambda s: s == NONE_LABEL)
    for segment in segments:
        rows.append(
            [f"· {short(segment, 20)}", *(str(w.by_segment.get(segment, 0)) for w in windows)]
        )
    title = f"<b>Leads</b> from Telegram, as of {local(stats.now, tz)} ({esc(tz)})"
    note = "By segment: the new leads' segments now; (none): not classified yet."
    if lang == "ru":
        title = f"<b>Лиды</b> из Telegram на {local(stats.now, tz)} ({esc(tz)})"
        note = "По сегментам: сегменты новых лидов сейчас; (none): ещё не классифицированы."
    return f"{title}\n{_table(rows)}\n<i>{esc(note)}</i>"


def _metrics_rows(m: Metrics, lang: str) -> list[list[str]]:
    rows = [
        ["leads", str(m.leads)],
        ["qualified", f"{m.qualified} ({pct(m.cr_qualified)})"],
        ["not our client", str(m.not_client)],
        ["contacts", f"{m.contacts} ({pct(m.cr_contact)})"],
        ["lead magnets", str(m.lead_magnets)],
        ["offers shown", str(m.offers_shown)],
        ["offers in doubt", str(m.offers_in_doubt)],
        ["offers clicked", f"{m.offers_clicked} (CTR {pct(m.offer_ctr)})"],
        ["to a manager", str(m.handoffs)],
        ["buyers", f"{m.buyers} (CR1 {pct(m.cr1)})"],
        ["orders", str(m.orders)],
        ["revenue", money(m.revenue)],
    ]
    if m.subscriptions:  # the subscription rung, when someone subscribed
        rows += [
            ["subscriptions", f"{m.subscriptions_active} / {m.subscriptions}"],
            ["renewals", str(m.renewals)],
            ["churned", f"{m.subscriptions_churned} ({pct(m.churn_rate)})"],
            ["recurring revenue", money(m.recurring_revenue)],
            ["MRR", money(m.mrr)],
        ]
    return [[tr(lang, name), value] for name, value in rows]


def _step_name(step: str) -> str:
    return step if len(step) <= STEP_WIDTH else step[: STEP_WIDTH - 1] + "…"


def _section_html(section: FunnelSection, lang: str) -> str:
    if section.segment is None:
        title = f"<b>Interview</b>: {section.entered} started"
        if lang == "ru":
            title = f"<b>Интервью</b>: начали {section.entered}"
    else:
        count = many(section.entered, "lead") if lang != "ru" else f"лидов: {section.entered}"
        title = f"<b>{esc(section.title)}</b> ({esc(section.segment)}): {count}"
    rows = [[tr(lang, w) for w in ("step", "reached", "of start", "dropped")]]
    for st in section.steps:
        c = st.total
        rows.append([_step_name(st.step), str(c.reached), pct(c.from_start), str(c.dropped or "")])
    return f"{title}\n{_table(rows)}"


def report_html(report: Report, tz: tzinfo, lang: str = "en") -> list[str]:
    """The metrics, then one table per chain; each message within Telegram's limit."""
    since = local(report.since, tz) if report.since else tr(lang, "the beginning")
    head = f"<b>Funnel</b>: leads from Telegram who arrived since {esc(since)} ({esc(tz)})"
    if lang == "ru":
        head = f"<b>Воронка</b>: лиды из Telegram, пришедшие с {esc(since)} ({esc(tz)})"
    table = _table([[tr(lang, "metric"), tr(lang, "all")], *_metrics_rows(report.total, lang)])
    blocks = [f"{head}\n{table}"]
    blocks += [_section_html(s, lang) for s in report.funnel]
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + len(block) + 2 <= MAX_TEXT:
            messages[-1] += "\n\n" + block
        else:
            messages += parts(block)
    return messages
