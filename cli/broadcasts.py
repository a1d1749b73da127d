"""``leadbot audience``, ``leadbot broadcast …`` and ``leadbot winback``: mailings from a terminal.

These commands only write to the queue; the running bot's touch loop delivers, with the
same limits, quiet hours and crash safety as the chains. Like the reports they never create
or migrate a database, and every mistake is one line on stderr with a non-zero exit. The
draft → preview → send flow is ``bot.broadcasts.flow``, shared with Telegram's /broadcast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot.broadcasts.audience import AudienceWords, describe, load_message
from bot.broadcasts.flow import Draft, Preview, make_draft, preview, send
from bot.broadcasts.paid import stars
from bot.broadcasts.preview import as_text
from bot.broadcasts.service import (
    DONE_WORD,
    BroadcastError,
    control,
    progress,
    progress_list,
    progress_text,
    run_winback,
)
from bot.broadcasts.view import audience_view, follow, list_table, status_view
from bot.reports.periods import local
from bot.reports.render import console
from bot.scenario.funnel import Funnel
from bot.settings import Settings
from cli.common import (
    SegmentOpt,
    SinceOpt,
    SourceOpt,
    StageOpt,
    UntilOpt,
    fail,
    now,
    scenario_or_exit,
    settings_or_exit,
    with_db,
)
from storage.broadcasts import Progress
from storage.db import Database

broadcast_app = typer.Typer(
    help="Mailings to an audience: send, list, status, pause, resume, cancel.",
    no_args_is_help=True,
)

StatusOpt = Annotated[
    str | None, typer.Option(help="active or completed (others are never reached).")
]
ChannelOpt = Annotated[
    str,
    typer.Option(
        help="telegram (default; the bot's chats), business (Telegram Business chats) or terminal."
    ),
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
IdArg = Annotated[int, typer.Argument(metavar="ID", help="The broadcast's id (see `list`).")]


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    funnel: Funnel
    now: datetime
    tz: ZoneInfo


def _context() -> Context:
    settings = settings_or_exit()
    return Context(settings, scenario_or_exit(settings), now(), ZoneInfo(settings.timezone))


def _words(
    segment: str | None, stage: str | None, status: str | None, source: str | None,
    channel: str, stopped_at: list[str] | None, idle_days: float | None, variant: str | None,
    since: str | None, until: str | None,
) -> AudienceWords:  # fmt: skip
    return AudienceWords(
        segment=segment, stage=stage, status=status, source=source, channel=channel,
        stopped_at=list(stopped_at or []), idle_days=idle_days, variant=variant,
        joined_after=since, joined_before=until,
    )  # fmt: skip


def _show(ctx: Context, draft: Draft, size: int) -> Preview:
    shown = with_db(ctx.settings, lambda db: preview(db, ctx.funnel, draft, ctx.now, size))
    console().print(
        audience_view(shown.count, shown.sample, describe(draft.audience), ctx.tz, ctx.now)
    )
    if shown.hint:
        typer.echo(shown.hint)
    return shown


def audience(
    segment: SegmentOpt = None,
    stage: StageOpt = None,
    status: StatusOpt = None,
    source: SourceOpt = None,
    channel: ChannelOpt = "telegram",
    stopped_at: StoppedAtOpt = None,
    idle_days: IdleOpt = None,
    variant: VariantOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Sample size.")] = 10,
) -> None:
    """How many leads a mailing with these filters would reach, and a sample of them.

    Unsubscribed, blocked and handed-off leads are never in an audience.
    """
    words = _words(segment, stage, status, source, channel, stopped_at, idle_days, variant,
                   since, until)  # fmt: skip
    ctx = _context()
    try:
        draft = make_draft(ctx.funnel, words, ctx.now, ctx.tz, content_later=True)
    except BroadcastError as exc:
        fail(str(exc))
    _show(ctx, draft, limit)


@broadcast_app.command("send")
def send_command(
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
    since: SinceOpt = None,
    until: UntilOpt = None,
    at: Annotated[
        str | None, typer.Option(help='Start at this time in TIMEZONE, e.g. "2026-12-01 10:00".')
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to find it by later.")] = None,
    paid: Annotated[
        bool,
        typer.Option(
            "--paid",
            help="Telegram's paid broadcast: up to 1000 messages/s, 0.1 Star each from the "
            "bot's balance. Needs --stars-cap.",
        ),
    ] = False,
    stars_cap: Annotated[
        str | None,
        typer.Option(
            metavar="STARS", help="With --paid: the most Stars it may spend; it stops there."
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(metavar="N", help="With --paid: messages a second (default and max 1000)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show count, sample and message; send nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Send a message, or start a chain, for every lead of an audience (through the bot's queue).

    Give one of --message, --text, --chain. Limits and quiet hours hold; nobody gets it twice.
    """
    if sum(x is not None for x in (message, text, chain)) != 1:
        fail("give exactly one of --message FILE, --text TEXT, --chain NAME")
    words = _words(segment, stage, status, source, channel, stopped_at, idle_days, variant,
                   since, until)  # fmt: skip
    ctx = _context()
    try:
        content = load_message(message) if message is not None else None
        if text is not None:
            content = {"message": text}
        draft = make_draft(
            ctx.funnel, words, ctx.now, ctx.tz, message=content, chain=chain, at=at, name=name,
            paid=paid, rate=rate, stars_cap=stars_cap,
        )  # fmt: skip
        shown = _show(ctx, draft, 5)
    except BroadcastError as exc:
        fail(str(exc))
    if not shown.count:
        fail("no leads match: nothing to send", 1)
    out = console()
    out.print(f"\n[bold]Message[/bold] (as {shown.seen_by} will see it):", highlight=False)
    out.print(as_text(shown.messages), markup=False, highlight=False)
    question = f"Send to {shown.count} lead(s)?"
    if shown.cost is not None:
        out.print("\n[bold]Cost[/bold]", highlight=False)
        for line in shown.cost.lines():
            out.print(line, markup=False, highlight=False)
        spend = stars(min(shown.cost.messages, shown.cost.cap))
        question = f"Send to {shown.count} lead(s) as a paid broadcast (up to {spend} Stars)?"
    if dry_run:
        typer.echo(f"\ndry run: nothing was sent ({shown.count} lead(s) would get it)")
        return
    if not yes:
        if not sys.stdin.isatty():
            fail("not a terminal: add --yes to send without a question")
        if not typer.confirm(f"\n{question}", default=False):
            fail("nothing was sent", 1)
    stem = message.stem if message is not None else ""

    async def work(db: Database) -> Any:
        return await send(db, ctx.funnel, draft, ctx.now, ctx.tz, created_by="cli", stem=stem)

    started = with_db(ctx.settings, work)
    when = f", starting {local(draft.starts, ctx.tz)}" if draft.starts else ""
    typer.echo(
        f"broadcast #{started.broadcast_id} «{started.name}»: {started.queued} message(s) "
        f"queued{when}. The running bot sends them; watch: leadbot broadcast status"
        f" {started.broadcast_id} --follow"
    )


@broadcast_app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=1, max=500, help="Show at most this many.")] = 20,
) -> None:
    """Broadcasts and win-back rules, newest first, with their progress."""
    settings = settings_or_exit()
    items = with_db(settings, lambda db: progress_list(db, limit))
    console().print(list_table(items, now(), ZoneInfo(settings.timezone)))


@broadcast_app.command("status")
def status_(
    broadcast_id: IdArg,
    watch: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Watch until nothing is queued (Ctrl-C stops)."),
    ] = False,
    every: Annotated[float, typer.Option(min=0.1, help="With --follow: seconds between looks.")] = (
        1.0
    ),
) -> None:
    """Where a broadcast stands: queued, sent, failed, skipped, blocked (with a progress bar)."""
    settings = settings_or_exit()
    tz = ZoneInfo(settings.timezone)

    async def work(db: Database) -> Progress:
        try:
            if watch:
                return await follow(db, broadcast_id, every, tz)
            return await progress(db, broadcast_id)
        except BroadcastError as exc:
            fail(f"{exc} (see `leadbot broadcast list`)", 1)

    final = with_db(settings, work)
    console().print(status_view(final, now(), tz))


def _control(action: str, broadcast_id: int, stars_cap: str | None = None) -> None:
    settings = settings_or_exit()
    moment = now()

    async def work(db: Database) -> Progress:
        try:
            return await control(db, broadcast_id, action, moment, stars_cap=stars_cap)
        except BroadcastError as exc:
            fail(str(exc), 1)

    result = with_db(settings, work)
    typer.echo(f"{DONE_WORD[action]}: {progress_text(result, moment, ZoneInfo(settings.timezone))}")


@broadcast_app.command("pause")
def pause(broadcast_id: IdArg) -> None:
    """Stop sending for now; the copies not sent yet wait (`resume` continues)."""
    _control("pause", broadcast_id)


@broadcast_app.command("resume")
def resume(
    broadcast_id: IdArg,
    stars_cap: Annotated[
        str | None,
        typer.Option(
            metavar="STARS",
            help="A paid broadcast's new Stars cap (one stopped at its cap needs a higher one).",
        ),
    ] = None,
) -> None:
    """Continue a paused broadcast, or one the bot stopped (its Stars cap or balance)."""
    _control("resume", broadcast_id, stars_cap)


@broadcast_app.command("cancel")
def cancel(broadcast_id: IdArg) -> None:
    """Drop the copies not sent yet, for good."""
    _control("cancel", broadcast_id)


def winback() -> None:
    """Run the scenario's win-back rules once now and print what was queued.

    The running bot does this by itself every few minutes; each lead gets a rule once.
    """
    ctx = _context()
    if not ctx.funnel.scenario.winback:
        fail(f"no win-back rules in {ctx.settings.scenario} (see docs/broadcasts.md)", 1)
    queued = with_db(ctx.settings, lambda db: run_winback(db, ctx.funnel, ctx.now))
    for rule in ctx.funnel.scenario.winback:
        n = queued.get(rule.id, 0)
        typer.echo(f"{rule.id}: {n} lead(s) queued for chain {rule.chain}")


def register(app: typer.Typer) -> None:
    """Add the mailing commands to the ``leadbot`` app."""
    app.command()(audience)
    app.add_typer(broadcast_app, name="broadcast")
    app.command()(winback)
