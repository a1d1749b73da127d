"""``leadbot leads | lead | export | report``: the lead log for managers, read-only.

Settings, the database and errors go through ``cli.common`` so every command fails the
same way (one line, a non-zero exit).
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.progress import Progress
from rich.table import Table

from bot.reports.broadcast import NoBroadcast, broadcast_view, build_broadcast_report
from bot.reports.broadcast import as_dict as broadcast_dict
from bot.reports.broadcast import csv_rows as broadcast_rows
from bot.reports.export import count_rows
from bot.reports.export import export as write_export
from bot.reports.leads import lead_card, list_leads
from bot.reports.questions import as_dict as questions_dict
from bot.reports.questions import lines as question_lines
from bot.reports.questions import question_report
from bot.reports.render import console, dropped_table, lead_card_view, leads_table, report_view
from bot.reports.report import as_dict, build_report, csv_rows
from bot.reports.spend import SpendError, load_spend
from bot.reports.steps import dropped_at
from bot.reports.variants import variant_report
from bot.scenario.funnel import Funnel
from bot.settings import Settings
from bot.time_phrases import PeriodError, parse_span
from cli.common import (
    ChannelOpt,
    LanguageOpt,
    SegmentOpt,
    SinceOpt,
    SourceOpt,
    StageOpt,
    StatusOpt,
    UntilOpt,
    fail,
    lead_filter,
    now,
    scenario_or_exit,
    settings_or_exit,
    with_db,
)
from storage.criteria import LeadFilter
from storage.db import Database

PROGRESS_FROM = 1000  # rows; smaller exports finish before a bar is worth drawing


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
    settings = settings_or_exit()
    funnel = scenario_or_exit(settings) if segment is not None else None
    f = lead_filter(settings, now(), segment=segment, stage=stage, status=status, source=source,
                channel=channel, since=since, until=until, limit=limit, funnel=funnel)  # fmt: skip
    rows = with_db(settings, lambda db: list_leads(db, f))
    out = console()
    out.print(leads_table(rows, ZoneInfo(settings.timezone), out.width))


def lead(
    ref: Annotated[str, typer.Argument(metavar="ID", help="Lead id, or @username.")],
) -> None:
    """One lead's card (answers, classification and why) and its whole timeline."""
    settings = settings_or_exit()
    tz = ZoneInfo(settings.timezone)
    card = with_db(settings, lambda db: lead_card(db, ref, tz))
    if card is None:
        fail(f"no lead {ref}", 1)
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
    settings = settings_or_exit()
    funnel = scenario_or_exit(settings) if segment is not None else None
    f = lead_filter(settings, now(), segment=segment, stage=stage, status=status, source=source,
                channel=channel, since=since, until=until, limit=limit, funnel=funnel)  # fmt: skip
    chosen = fmt or format_of(output)
    if kind is ExportKind.leads:
        keys = list((funnel or scenario_or_exit(settings)).answer_keys())
    else:
        keys = []
    tz = ZoneInfo(settings.timezone)
    show_bar = not quiet and sys.stderr.isatty()

    async def work(db: Database) -> int:
        total = await count_rows(db, kind.value, f) if show_bar else 0
        try:
            if total < PROGRESS_FROM:
                return await write_export(db, kind.value, f, output, chosen.value, tz, keys)
            with Progress(console=console(stderr=True), transient=True) as progress:
                task = progress.add_task(f"exporting {kind.value}", total=total)
                return await write_export(
                    db, kind.value, f, output, chosen.value, tz, keys,
                    lambda n: progress.advance(task, n),
                )  # fmt: skip
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}", 1)

    written = with_db(settings, work)
    if not quiet:
        typer.echo(f"wrote {written} {kind.value} to {output}")


def format_of(output: Path) -> FileFormat:
    """csv or xlsx from the file name; another suffix would get a file it does not name."""
    suffix = output.suffix.lower()
    if suffix == ".xlsx":
        return FileFormat.xlsx
    if suffix in {"", ".csv", ".txt"}:
        return FileFormat.csv
    fail(f"cannot write {suffix[1:]} ({output}): name it .csv or .xlsx, or give --format")


def report(
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    language: LanguageOpt = None,
    spend: Annotated[
        Path | None,
        typer.Option(help="Ad spend per source (CSV source,amount,currency or YAML) for CPL/CPO."),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table, csv or json.")] = (
        ReportFormat.table
    ),
    dropped: Annotated[
        str | None,
        typer.Option(
            metavar="STEP",
            help="Instead: the leads who dropped at this step (as counted in the report).",
        ),
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
    settings = settings_or_exit()
    moment = now()
    if broadcast is not None:
        _broadcast_report(settings, broadcast, window, fmt, moment)
        return
    funnel = scenario_or_exit(settings)
    f = lead_filter(settings, moment, segment=segment, source=source, channel=channel,
                since=since, until=until, funnel=funnel, language=language)  # fmt: skip
    tz = ZoneInfo(settings.timezone)
    if variants:
        _variants_report(settings, funnel, f, fmt)
        return
    if questions:  # what to add to the knowledge base
        found = with_db(settings, lambda db: question_report(db, funnel, f.since, f.until))
        if fmt is ReportFormat.json:
            typer.echo(json.dumps(questions_dict(found), ensure_ascii=False, indent=2))
        else:
            typer.echo("\n".join(question_lines(found)))
        return
    if dropped is not None:
        if dropped not in funnel.steps:
            fail(f"no step {dropped!r} in {settings.scenario} (see `leadbot report`)", 1)
        rows = with_db(settings, lambda db: dropped_at(db, f, dropped, moment))
        console().print(dropped_table(dropped, rows, tz))
        return
    try:
        costs = load_spend(spend) if spend is not None else {}
    except SpendError as exc:
        fail(str(exc))
    result = with_db(settings, lambda db: build_report(db, funnel, f, moment, costs))
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(as_dict(result), ensure_ascii=False, indent=2))
    elif fmt is ReportFormat.csv:
        csv.writer(sys.stdout).writerows(csv_rows(result))
    else:
        console().print(report_view(result, tz))


def _variants_report(settings: Settings, funnel: Funnel, f: LeadFilter, fmt: ReportFormat) -> None:
    steps = with_db(settings, lambda db: variant_report(db, funnel, f))
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
    settings: Settings, broadcast_id: int, window: str, fmt: ReportFormat, moment: datetime
) -> None:
    try:
        span = parse_span(window)
    except PeriodError as exc:
        fail(f"--window: {exc}")
    funnel = scenario_or_exit(settings)
    try:
        result = with_db(
            settings, lambda db: build_broadcast_report(db, funnel, broadcast_id, span, moment)
        )
    except NoBroadcast:
        fail(f"no broadcast {broadcast_id} (see `leadbot broadcast list`)", 1)
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(broadcast_dict(result), ensure_ascii=False, indent=2))
    elif fmt is ReportFormat.csv:
        csv.writer(sys.stdout).writerows(broadcast_rows(result))
    else:
        console().print(broadcast_view(result, ZoneInfo(settings.timezone)))


def register(app: typer.Typer) -> None:
    """Add the managers' commands to the ``leadbot`` app."""
    app.command()(leads)
    app.command()(lead)
    app.command()(export)
    app.command()(report)
