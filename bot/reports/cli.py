"""``leadbot leads | lead | export | report``: the lead log for managers, read-only.

Registered on the main app by ``register(app)``; settings and errors go through
``bot.cli`` so every command fails the same way (one line, a non-zero exit).
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer

from bot.reports.periods import PeriodError, parse_moment
from bot.vocabulary import LeadStatus, Stage
from storage.db import HEAD_REVISION
from storage.queries import NONE_LABEL, LeadFilter

if TYPE_CHECKING:
    from bot.scenario.funnel import Funnel
    from bot.settings import Settings
    from storage.db import Database

T = TypeVar("T")
STAGES = tuple(s.value for s in Stage)
STATUSES: tuple[str, ...] = tuple(LeadStatus)
PROGRESS_FROM = 1000  # rows; smaller exports finish before a bar is worth drawing

SegmentOpt = Annotated[
    str | None, typer.Option(help=f"Only this segment ({NONE_LABEL}: not classified yet).")
]
StageOpt = Annotated[str | None, typer.Option(help=f"Only this stage: {', '.join(STAGES)}.")]
StatusOpt = Annotated[str | None, typer.Option(help=f"Only this status: {', '.join(STATUSES)}.")]
SourceOpt = Annotated[
    str | None, typer.Option(help=f"Only this deep-link source ({NONE_LABEL}: no source).")
]
ChannelOpt = Annotated[
    str | None, typer.Option(help="telegram, or terminal (the simulator); default: both.")
]
SinceOpt = Annotated[
    str | None,
    typer.Option(help="From this date (YYYY-MM-DD in TIMEZONE, today) or this long ago (7d, 12h)."),
]
UntilOpt = Annotated[
    str | None, typer.Option(help="Up to and including this date, or up to this long ago.")
]


class ExportKind(StrEnum):
    leads = "leads"
    events = "events"


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _fail(message: str, code: int = 2) -> NoReturn:
    from bot.cli import fail

    fail(message, code)


def _settings() -> Settings:
    from bot.cli import settings_or_exit

    return settings_or_exit()


def _funnel(settings: Settings) -> Funnel:
    from app.wiring import load_scenario
    from bot.scenario.loader import ScenarioError

    try:
        return load_scenario(settings)
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        _fail("the scenario has errors; fix them or run `leadbot validate`")


def _filter(
    settings: Settings,
    now: datetime,
    *,
    segment: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    source: str | None = None,
    channel: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> LeadFilter:
    if stage is not None and stage not in STAGES:
        _fail(f"--stage {stage!r}: use one of {', '.join(STAGES)}")
    if status is not None and status not in STATUSES:
        _fail(f"--status {status!r}: use one of {', '.join(STATUSES)}")
    if limit is not None and limit < 1:
        _fail("--limit must be at least 1")
    tz = ZoneInfo(settings.timezone)
    try:
        start = parse_moment(since, now, tz) if since else None
        end = parse_moment(until, now, tz, end=True) if until else None
    except PeriodError as exc:
        _fail(str(exc))
    if start is not None and end is not None and start >= end:
        _fail("--since must be before --until")
    return LeadFilter(segment, stage, status, source, channel, start, end, limit)


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database read-only in spirit: never create or migrate it, fail in one line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import Database

    url = make_url(settings.database_url)
    name = url.database
    local_file = url.get_backend_name() == "sqlite" and name and name != ":memory:"
    if local_file and not Path(str(name)).exists():
        _fail(f"no database at {name}: start the bot or run `leadbot db upgrade`", 1)

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            revision = await db.current_revision()
            if revision is None:
                _fail("the database has no lead log yet: run `leadbot db upgrade`", 1)
            if revision != HEAD_REVISION:
                _fail(
                    f"the database is at version {revision}, older than this leadbot "
                    f"({HEAD_REVISION}): run `leadbot db upgrade`",
                    1,
                )
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except (SQLAlchemyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _fail(f"database error: {first}", 1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _now() -> datetime:
    return datetime.now(UTC)


# --- commands -----------------------------------------------------------------------------


def leads(
    segment: SegmentOpt = None,
    stage: StageOpt = None,
    status: StatusOpt = None,
    source: SourceOpt = None,
    channel: ChannelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
) -> None:
    """List leads, newest first: who, where from, segment, stage, status, current step."""
    from bot.reports.leads import list_leads
    from bot.reports.render import console, leads_table

    settings = _settings()
    f = _filter(settings, _now(), segment=segment, stage=stage, status=status, source=source,
                channel=channel, since=since, until=until, limit=limit)  # fmt: skip
    rows = _with_db(settings, lambda db: list_leads(db, f))
    console().print(leads_table(rows, ZoneInfo(settings.timezone)))


def lead(
    ref: Annotated[str, typer.Argument(metavar="ID", help="Lead id, or @username.")],
) -> None:
    """One lead's card (answers, classification and why) and its whole timeline."""
    from bot.reports.leads import lead_card
    from bot.reports.render import console, lead_card_view

    settings = _settings()
    tz = ZoneInfo(settings.timezone)
    card = _with_db(settings, lambda db: lead_card(db, ref, tz))
    if card is None:
        _fail(f"no lead {ref}", 1)
    console().print(lead_card_view(card, tz))


def export(
    kind: Annotated[ExportKind, typer.Argument(help="leads (with answers) or events (the log).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[
        FileFormat | None,
        typer.Option("--format", help="csv or xlsx (default: from the file name, else csv)."),
    ] = None,
    segment: SegmentOpt = None,
    stage: StageOpt = None,
    status: StatusOpt = None,
    source: SourceOpt = None,
    channel: ChannelOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int | None, typer.Option(help="Write at most this many rows.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
) -> None:
    """Export leads or events to CSV (UTF-8, opens in Excel) or XLSX, with the same filters.

    For events, --since/--until bound the event's time; the other filters apply to its lead.
    """
    from bot.reports.export import count_rows
    from bot.reports.export import export as write_export
    from bot.reports.render import console

    settings = _settings()
    f = _filter(settings, _now(), segment=segment, stage=stage, status=status, source=source,
                channel=channel, since=since, until=until, limit=limit)  # fmt: skip
    chosen = fmt or (FileFormat.xlsx if output.suffix.lower() == ".xlsx" else FileFormat.csv)
    keys = list(_funnel(settings).answer_keys()) if kind is ExportKind.leads else []
    tz = ZoneInfo(settings.timezone)
    show_bar = not quiet and sys.stderr.isatty()

    async def work(db: Database) -> int:
        total = await count_rows(db, kind.value, f) if show_bar else 0
        try:
            if total < PROGRESS_FROM:
                return await write_export(db, kind.value, f, output, chosen.value, tz, keys)
            from rich.progress import Progress

            with Progress(console=console(stderr=True), transient=True) as progress:
                task = progress.add_task(f"exporting {kind.value}", total=total)
                return await write_export(
                    db, kind.value, f, output, chosen.value, tz, keys,
                    lambda n: progress.advance(task, n),
                )  # fmt: skip
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}", 1)

    written = _with_db(settings, work)
    if not quiet:
        typer.echo(f"wrote {written} {kind.value} to {output}")


def report(
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    spend: Annotated[
        Path | None,
        typer.Option(help="Ad spend per source (CSV source,amount,currency or YAML) for CPL/CPO."),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table, csv or json.")] = (
        ReportFormat.table
    ),
    dropped: Annotated[
        str | None,
        typer.Option(metavar="STEP", help="Instead: the leads who stopped at this step."),
    ] = None,
    broadcast: Annotated[
        int | None,
        typer.Option(metavar="ID", help="Instead: what this broadcast reached and caused."),
    ] = None,
    window: Annotated[
        str, typer.Option(help="With --broadcast: how long after it reactions count (3d, 12h).")
    ] = "3d",
    variants: Annotated[
        bool, typer.Option("--variants", help="Instead: A/B variants, reach and conversion.")
    ] = False,
    questions: Annotated[
        bool,
        typer.Option("--questions", help="Instead: unanswered questions and used KB entries."),
    ] = False,
) -> None:
    """The funnel by step and the method's metrics (CR, CR1, CPL, CPO) for a cohort of leads."""
    from bot.reports.render import console, dropped_table, report_view
    from bot.reports.report import as_dict, build_report, csv_rows
    from bot.reports.spend import SpendError, load_spend
    from bot.reports.steps import dropped_at

    settings = _settings()
    now = _now()
    if broadcast is not None:
        _broadcast_report(settings, broadcast, window, fmt, now)
        return
    f = _filter(settings, now, segment=segment, source=source, channel=channel,
                since=since, until=until)  # fmt: skip
    tz = ZoneInfo(settings.timezone)
    funnel = _funnel(settings)
    if variants:
        _variants_report(settings, funnel, f, fmt)
        return
    if questions:  # issue 13: what to add to the knowledge base
        from bot.reports.questions import as_dict as questions_dict
        from bot.reports.questions import lines, question_report

        found = _with_db(settings, lambda db: question_report(db, funnel, f.since, f.until))
        if fmt is ReportFormat.json:
            typer.echo(json.dumps(questions_dict(found), ensure_ascii=False, indent=2))
        else:
            typer.echo("\n".join(lines(found)))
        return
    if dropped is not None:
        if dropped not in funnel.steps:
            _fail(f"no step {dropped!r} in {settings.scenario} (see `leadbot report`)", 1)
        rows = _with_db(settings, lambda db: dropped_at(db, f, dropped, now))
        console().print(dropped_table(dropped, rows, tz))
        return
    try:
        costs = load_spend(spend) if spend is not None else {}
    except SpendError as exc:
        _fail(str(exc))
    result = _with_db(settings, lambda db: build_report(db, funnel, f, now, costs))
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(as_dict(result), ensure_ascii=False, indent=2))
    elif fmt is ReportFormat.csv:
        csv.writer(sys.stdout).writerows(csv_rows(result))
    else:
        console().print(report_view(result, tz))


def _variants_report(settings: Settings, funnel: Funnel, f: LeadFilter, fmt: ReportFormat) -> None:
    from rich.table import Table

    from bot.reports.render import console
    from bot.reports.variants import variant_report

    steps = _with_db(settings, lambda db: variant_report(db, funnel, f))
    if not steps:
        typer.echo("the scenario has no steps with variants")
        return
    rows = [
        {"step": r.step, "variant": r.variant, "weight": r.weight, "reached": r.reached,
         "converted": r.converted, "rate": round(r.rate, 4), "p_value": s.p_value}
        for s in steps for r in s.rows
    ]  # fmt: skip
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if fmt is ReportFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return
    for step in steps:
        table = Table(title=f"A/B at {step.step}")
        for column in ("variant", "weight", "reached", "converted", "rate"):
            table.add_column(column, justify="left" if column == "variant" else "right")
        for r in step.rows:
            table.add_row(
                r.variant, str(r.weight), str(r.reached), str(r.converted), f"{r.rate:.1%}"
            )
        console().print(table)
        if step.p_value is None:
            typer.echo("not enough leads yet to compare (at least 5 per variant)")
        else:
            verdict = "a real difference" if step.p_value < 0.05 else "could be chance"
            typer.echo(f"p = {step.p_value:.3f} (two-proportion z-test): {verdict}")


def _broadcast_report(
    settings: Settings, broadcast_id: int, window: str, fmt: ReportFormat, now: datetime
) -> None:
    from bot.reports.broadcast import (
        NoBroadcast,
        as_dict,
        broadcast_view,
        build_broadcast_report,
        csv_rows,
    )
    from bot.reports.render import console
    from bot.scenario.durations import parse_span

    try:
        span = parse_span(window)
    except ValueError as exc:
        _fail(f"--window: {exc}")
    funnel = _funnel(settings)
    try:
        result = _with_db(
            settings, lambda db: build_broadcast_report(db, funnel, broadcast_id, span, now)
        )
    except NoBroadcast:
        _fail(f"no broadcast {broadcast_id} (see `leadbot broadcast list`)", 1)
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(as_dict(result), ensure_ascii=False, indent=2))
    elif fmt is ReportFormat.csv:
        csv.writer(sys.stdout).writerows(csv_rows(result))
    else:
        console().print(broadcast_view(result, ZoneInfo(settings.timezone)))


def register(app: typer.Typer) -> None:
    """Add the managers' commands to the ``leadbot`` app."""
    app.command()(leads)
    app.command()(lead)
    app.command()(export)
    app.command()(report)
