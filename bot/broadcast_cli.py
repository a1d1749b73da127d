"""``leadbot audience``, ``leadbot broadcast …`` and ``leadbot winback``: mailings from a terminal.

These commands only write to the queue; the running bot's touch loop delivers, with the
same limits, quiet hours and crash safety as the chains. Like the reports they never create
or migrate a database, and every mistake is one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot.audience import AudienceWords, build_audience, describe, load_message, parse_at
from bot.broadcast_control import default_name
from bot.broadcasts import BroadcastError, check_content
from bot.reports.cli import (
    SegmentOpt,
    SourceOpt,
    StageOpt,
    _fail,
    _funnel,
    _now,
    _settings,
    _with_db,
)
from storage.broadcasts import Audience, Progress

if TYPE_CHECKING:
    from storage.db import Database

broadcast_app = typer.Typer(
    help="Mailings to an audience: send, list, status, pause, resume, cancel.",
    no_args_is_help=True,
)

StatusOpt = Annotated[
    str | None, typer.Option(help="active or completed (others are never reached).")
]
ChannelOpt = Annotated[
    str, typer.Option(help="telegram (default; the bot sends there) or terminal.")
]
StoppedAtOpt = Annotated[
    list[str] | None,
    typer.Option("--stopped-at", metavar="STEP", help="Whose current step is this (repeatable)."),
]
IdleOpt = Annotated[
    float | None, typer.Option(metavar="N", help="No event at all for the last N days.")
]
VariantOpt = Annotated[
    str | None, typer.Option(metavar="STEP=VARIANT", help="Who was shown this A/B variant.")
]
AfterOpt = Annotated[
    str | None,
    typer.Option(help="Arrived from this date (YYYY-MM-DD, today, yesterday) or 7d / 12h ago."),
]
BeforeOpt = Annotated[
    str | None, typer.Option(help="Arrived up to and including this date, or before 7d / 12h ago.")
]
IdArg = Annotated[int, typer.Argument(metavar="ID", help="The broadcast's id (see `list`).")]


def _audience(words: AudienceWords) -> tuple[Audience, Any, datetime, ZoneInfo, Any]:
    settings = _settings()
    funnel = _funnel(settings)
    now = _now()
    tz = ZoneInfo(settings.timezone)
    try:
        return build_audience(words, funnel, now, tz), funnel, now, tz, settings
    except BroadcastError as exc:
        _fail(str(exc))


def _words(
    segment: str | None, stage: str | None, status: str | None, source: str | None,
    channel: str, stopped_at: list[str] | None, idle_days: float | None, variant: str | None,
    joined_after: str | None, joined_before: str | None,
) -> AudienceWords:  # fmt: skip
    return AudienceWords(
        segment=segment, stage=stage, status=status, source=source, channel=channel,
        stopped_at=list(stopped_at or []), idle_days=idle_days, variant=variant,
        joined_after=joined_after, joined_before=joined_before,
    )  # fmt: skip


async def _sample(db: Database, audience: Audience, now: datetime, size: int) -> tuple[int, Any]:
    from storage import broadcasts
    from storage.broadcast_queries import audience_sample

    async with db.session() as session:
        count = await broadcasts.count(session, audience, now)
        return count, await audience_sample(session, audience, now, size)


def audience(
    segment: SegmentOpt = None,
    stage: StageOpt = None,
    status: StatusOpt = None,
    source: SourceOpt = None,
    channel: ChannelOpt = "telegram",
    stopped_at: StoppedAtOpt = None,
    idle_days: IdleOpt = None,
    variant: VariantOpt = None,
    joined_after: AfterOpt = None,
    joined_before: BeforeOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Sample size.")] = 10,
) -> None:
    """How many leads a mailing with these filters would reach, and a sample of them.

    Unsubscribed, blocked and handed-off leads are never in an audience.
    """
    from bot.broadcast_view import audience_view
    from bot.reports.render import console

    words = _words(segment, stage, status, source, channel, stopped_at, idle_days, variant,
                   joined_after, joined_before)  # fmt: skip
    chosen, _, now, tz, settings = _audience(words)
    count, rows = _with_db(settings, lambda db: _sample(db, chosen, now, limit))
    console().print(audience_view(count, rows, describe(chosen), tz, now))


@broadcast_app.command("send")
def send(
    message: Annotated[
        Path | None,
        typer.Option(help="A YAML message: message, image, document, buttons (as in scenarios)."),
    ] = None,
    text: Annotated[str | None, typer.Option(help="A plain message (Telegram HTML).")] = None,
    chain: Annotated[str | None, typer.Option(help="Start this chain of the scenario.")] = None,
    segment: SegmentOpt = None,
    stage: StageOpt = None,
    status: StatusOpt = None,
    source: SourceOpt = None,
    channel: ChannelOpt = "telegram",
    stopped_at: StoppedAtOpt = None,
    idle_days: IdleOpt = None,
    variant: VariantOpt = None,
    joined_after: AfterOpt = None,
    joined_before: BeforeOpt = None,
    at: Annotated[
        str | None, typer.Option(help='Start at this time in TIMEZONE, e.g. "2026-12-01 10:00".')
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to find it by later.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show count, sample and message; send nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Send a message, or start a chain, for every lead of an audience (through the bot's queue).

    Give one of --message, --text, --chain. Limits and quiet hours hold; nobody gets it twice.
    """
    from bot.broadcast_preview import as_text, preview_messages
    from bot.broadcast_view import audience_view
    from bot.reports.render import console

    if sum(x is not None for x in (message, text, chain)) != 1:
        _fail("give exactly one of --message FILE, --text TEXT, --chain NAME")
    words = _words(segment, stage, status, source, channel, stopped_at, idle_days, variant,
                   joined_after, joined_before)  # fmt: skip
    chosen, funnel, now, tz, settings = _audience(words)
    try:
        content = load_message(message) if message is not None else None
        if text is not None:
            content = {"message": text}
        check_content(funnel, content, chain)
        starts = parse_at(at, now, tz) if at else None
    except BroadcastError as exc:
        _fail(str(exc))
    count, rows = _with_db(settings, lambda db: _sample(db, chosen, now, 5))
    out = console()
    out.print(audience_view(count, rows, describe(chosen), tz, now))
    if not count:
        _fail("no leads match: nothing to send", 1)
    sample_lead = rows[0].lead if rows else None
    shown = preview_messages(funnel, sample_lead, now, message=content, chain=chain)
    who = f"as {rows[0].lead.first_name or 'lead #' + str(rows[0].lead.id)} will see it"
    out.print(f"\n[bold]Message[/bold] ({who}):", highlight=False)
    out.print(as_text(shown), markup=False, highlight=False)
    if dry_run:
        typer.echo(f"\ndry run: nothing was sent ({count} lead(s) would get it)")
        return
    if not yes:
        if not sys.stdin.isatty():
            _fail("not a terminal: add --yes to send without a question")
        if not typer.confirm(f"\nSend to {count} lead(s)?", default=False):
            _fail("nothing was sent", 1)
    stem = message.stem if message is not None else ""
    label = name or default_name(content, chain, now, tz, stem)
    _queue(settings, funnel, chosen, label, content, chain, starts, now, tz)


def _queue(
    settings: Any, funnel: Any, chosen: Audience, label: str, content: dict[str, Any] | None,
    chain: str | None, starts: datetime | None, now: datetime, tz: ZoneInfo,
) -> None:  # fmt: skip
    from bot.broadcasts import start
    from bot.reports.periods import local

    async def work(db: Database) -> Any:
        return await start(
            db, funnel, name=label, audience=chosen, message=content, chain=chain,
            starts_at=starts, created_by="cli", now=now,
        )  # fmt: skip

    started = _with_db(settings, work)
    when = f", starting {local(starts, tz)}" if starts else ""
    typer.echo(
        f"broadcast #{started.broadcast_id} «{label}»: {started.queued} message(s) queued{when}."
        f" The running bot sends them; watch: leadbot broadcast status"
        f" {started.broadcast_id} --follow"
    )


@broadcast_app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=1, max=500, help="Show at most this many.")] = 20,
) -> None:
    """Broadcasts and win-back rules, newest first, with their progress."""
    from bot.broadcast_view import list_table
    from bot.reports.render import console

    settings = _settings()
    now = _now()

    async def work(db: Database) -> list[Progress]:
        from storage import broadcasts

        async with db.session() as session:
            items = []
            for row in await broadcasts.list_all(session, limit):
                found = await broadcasts.progress(session, row.id)
                if found is not None:
                    items.append(found)
            return items

    items = _with_db(settings, work)
    console().print(list_table(items, now, ZoneInfo(settings.timezone)))


@broadcast_app.command("status")
def status_(
    broadcast_id: IdArg,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Watch until nothing is queued (Ctrl-C stops)."),
    ] = False,
    every: Annotated[float, typer.Option(min=0.1, help="With --follow: seconds between looks.")] = (
        1.0
    ),
) -> None:
    """Where a broadcast stands: queued, sent, failed, skipped, blocked (with a progress bar)."""
    from bot.broadcast_view import status_view
    from bot.reports.render import console

    settings = _settings()
    tz = ZoneInfo(settings.timezone)

    async def work(db: Database) -> Progress:
        from bot.broadcast_follow import follow as follow_progress
        from bot.broadcasts import progress

        try:
            if follow:
                return await follow_progress(db, broadcast_id, every, tz)
            return await progress(db, broadcast_id)
        except BroadcastError as exc:
            _fail(f"{exc} (see `leadbot broadcast list`)", 1)

    final = _with_db(settings, work)
    console().print(status_view(final, _now(), tz))


def _control(action: str, broadcast_id: int) -> None:
    from bot.broadcast_control import DONE_WORD, control, progress_text

    settings = _settings()
    now = _now()

    async def work(db: Database) -> Progress:
        try:
            return await control(db, broadcast_id, action, now)
        except BroadcastError as exc:
            _fail(str(exc), 1)

    result = _with_db(settings, work)
    typer.echo(f"{DONE_WORD[action]}: {progress_text(result, now, ZoneInfo(settings.timezone))}")


@broadcast_app.command("pause")
def pause(broadcast_id: IdArg) -> None:
    """Stop sending for now; the copies not sent yet wait (`resume` continues)."""
    _control("pause", broadcast_id)


@broadcast_app.command("resume")
def resume(broadcast_id: IdArg) -> None:
    """Continue a paused broadcast."""
    _control("resume", broadcast_id)


@broadcast_app.command("cancel")
def cancel(broadcast_id: IdArg) -> None:
    """Drop the copies not sent yet, for good."""
    _control("cancel", broadcast_id)


def winback() -> None:
    """Run the scenario's win-back rules once now and print what was queued.

    The running bot does this by itself every few minutes; each lead gets a rule once.
    """
    from bot.broadcasts import run_winback

    settings = _settings()
    funnel = _funnel(settings)
    if not funnel.scenario.winback:
        _fail(f"no win-back rules in {settings.scenario} (see docs/broadcasts.md)", 1)
    now = _now()
    queued = _with_db(settings, lambda db: run_winback(db, funnel, now))
    for rule in funnel.scenario.winback:
        n = queued.get(rule.id, 0)
        typer.echo(f"{rule.id}: {n} lead(s) queued for chain {rule.chain}")


def register(app: typer.Typer) -> None:
    """Add the mailing commands to the ``leadbot`` app."""
    app.command()(audience)
    app.add_typer(broadcast_app, name="broadcast")
    app.command()(winback)
