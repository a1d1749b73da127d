"""Rich views for ``leadbot audience`` and ``leadbot broadcast``: who, what, and how far.

Values from the database go in as ``Text`` so a prospect's ``[bold]`` name stays literal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo

from rich.console import Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from bot.broadcasts.audience import describe
from bot.broadcasts.paid import MAX_RATE
from bot.broadcasts.service import progress, progress_text, stars_spent, state_word
from bot.reports.leads import lead_row
from bot.reports.periods import idle, local
from bot.reports.render import DASH, console, many
from storage.broadcast_queries import SampleRow
from storage.broadcasts import Progress as Standing
from storage.criteria import NONE_LABEL
from storage.db import Database


def _t(value: object) -> Text:
    return Text("" if value is None else str(value))


def sample_table(rows: Sequence[SampleRow], tz: tzinfo, now: datetime, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("id", "name", "source", "segment", "stage", "status", "step", "last activity"):
        table.add_column(name, justify="right" if name == "id" else "left", overflow="fold")
    for row in rows:
        r = lead_row(row.lead)
        seen = row.last_activity
        activity = f"{local(seen, tz)} ({idle(now - seen)} ago)" if seen else DASH
        table.add_row(
            _t(r.id), _t(r.who), _t(r.source or NONE_LABEL), _t(r.segment or NONE_LABEL),
            _t(r.stage), _t(r.status), _t(r.step or DASH), _t(activity),
        )  # fmt: skip
    return table


def audience_view(
    count: int, rows: Sequence[SampleRow], described: str, tz: tzinfo, now: datetime
) -> RenderableType:
    verb = "matches" if count == 1 else "match"
    head = Text(f"{many(count, 'lead')} {verb}: {described}", style="bold")
    if not count:
        return Group(head, Text("no leads match: nobody would get this mailing"))
    shown = f"{len(rows)} newest of {count}" if count > len(rows) else f"all {count}"
    return Group(head, sample_table(rows, tz, now, f"Sample ({shown})"))


def bar(p: Standing) -> ProgressBar:
    total = max(p.total - p.cancelled, 1)
    return ProgressBar(total=total, completed=p.sent + p.failed, width=40)


def status_view(p: Standing, now: datetime, tz: tzinfo) -> RenderableType:
    b = p.broadcast
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    what = f"chain {b.chain}" if b.chain else "message"
    if b.kind == "winback":
        what = f"win-back rule, {what}"
    lines = [
        ("broadcast", f"#{b.id} «{b.name}» ({what})"),
        ("state", state_word(p, now)),
        ("starts", local(b.starts_at, tz)),
        ("created", f"{local(b.created_at, tz)} by {b.created_by or DASH}"),
        ("audience", describe(b.audience or {})),
    ]
    if b.paid:
        lines.append(("paid", f"{b.paid_rate or MAX_RATE:g} messages/s, Stars {stars_spent(p)}"))
    if b.stop_reason and b.state == "stopped":
        lines.append(("stopped", b.stop_reason))
    for name, value in lines:
        facts.add_row(_t(name), _t(value))
    counts = Table(show_header=True)
    for name in ("queued", "sent", "failed", "skipped", "blocked", "cancelled"):
        counts.add_column(name, justify="right")
    counts.add_row(*(_t(n) for n in (p.queued, p.delivered, p.failed + p.rejected, p.skipped,
                                      p.blocked, p.cancelled)))  # fmt: skip
    return Group(facts, bar(p), counts)


def list_table(items: Sequence[Standing], now: datetime, tz: tzinfo) -> RenderableType:
    if not items:
        return Text("no broadcasts yet: `leadbot broadcast send --help`")
    table = Table(title=f"{many(len(items), 'broadcast')}, newest first", title_justify="left")
    for name in ("id", "name", "kind", "content", "state", "starts", "queued", "sent", "failed",
                 "skipped", "blocked", "stars", "by"):  # fmt: skip
        numeric = name in {"id", "queued", "sent", "failed", "skipped", "blocked"}
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for p in items:
        b = p.broadcast
        content = f"chain {b.chain}" if b.chain else _snippet((b.message or {}).get("message"))
        table.add_row(
            _t(b.id), _t(b.name), _t(b.kind), _t(content), _t(state_word(p, now)),
            _t(local(b.starts_at, tz)), _t(p.queued), _t(p.delivered), _t(p.failed + p.rejected),
            _t(p.skipped), _t(p.blocked), _t(stars_spent(p) if b.paid else DASH),
            _t(b.created_by or DASH),
        )  # fmt: skip
    return table


def _snippet(text: object, size: int = 40) -> str:
    words = " ".join(str(text or "").split())
    return words if len(words) <= size else words[: size - 1] + "…"


# --- status --follow ------------------------------------------------------------------


def finished(p: Standing) -> bool:
    """Nothing more will go out unless someone acts: done, cancelled, or stopped by the bot."""
    return p.done or p.broadcast.state in {"cancelled", "stopped"}


async def follow(
    db: Database,
    broadcast_id: int,
    every: float,
    tz: tzinfo,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Standing:
    """Poll until nothing of the broadcast is queued (or it is cancelled); the last look."""
    current = await progress(db, broadcast_id)
    out = console(stderr=True)
    if not out.is_terminal:
        line = ""
        while True:
            text = progress_text(current, clock(), tz)
            if text != line:
                print(text, flush=True)
                line = text
            if finished(current):
                return current
            await asyncio.sleep(every)
            current = await progress(db, broadcast_id)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=True) as shown:
        task = shown.add_task("", total=None)
        while True:
            total = max(current.total - current.cancelled, 1)
            shown.update(
                task,
                total=total,
                completed=current.sent + current.failed,
                description=progress_text(current, clock(), tz),
            )
            if finished(current):
                return current
            await asyncio.sleep(every)
            current = await progress(db, broadcast_id)
