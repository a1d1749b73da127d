"""What every ``leadbot`` command shares: settings, the database, one-line errors, filters.

Each filter option is defined here once (as a typer ``Annotated`` type) so ``leads``,
``export``, ``report``, ``audience`` and ``broadcast send`` spell and explain it alike.
Mistakes are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.scenario.funnel import Funnel
from bot.scenario.loader import ScenarioError, load_funnel
from bot.settings import Settings, SettingsError, load_settings
from bot.time_phrases import PeriodError, parse_moment
from bot.vocabulary import STAGES, STATUSES

# Kept in cli.serve, which `leadbot run` uses alone; every command runs its coroutine there.
from cli.serve import SCENARIO_BROKEN
from cli.serve import run as run
from storage.criteria import NONE_LABEL, LeadFilter
from storage.db import HEAD_REVISION, Database

T = TypeVar("T")

# --- the shared filter options -------------------------------------------------------------

SegmentOpt = Annotated[
    str | None, typer.Option(help=f"Only this segment ({NONE_LABEL}: not classified yet).")
]
StageOpt = Annotated[str | None, typer.Option(help=f"Only this stage: {', '.join(STAGES)}.")]
StatusOpt = Annotated[str | None, typer.Option(help=f"Only this status: {', '.join(STATUSES)}.")]
SourceOpt = Annotated[
    str | None, typer.Option(help=f"Only this deep-link source ({NONE_LABEL}: no source).")
]
LanguageOpt = Annotated[
    str | None,
    typer.Option(help="Only leads whose Telegram speaks this language (en matches en-GB too)."),
]
ChannelOpt = Annotated[
    str | None,
    typer.Option(
        help="telegram, business (Telegram Business chats) or terminal (the simulator); "
        "default: all."
    ),
]
# --since and --joined-after bound the same column (when the lead arrived): one option.
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        "--joined-after",
        help="Arrived from this date (YYYY-MM-DD in TIMEZONE, today) or this long ago (30m, 7d).",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        "--joined-before",
        help="Arrived up to and including this date, or up to this long ago.",
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: how every command reports a mistake."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc))


def now() -> datetime:
    return datetime.now(UTC)


def scenario_or_exit(settings: Settings, path: Path | None = None) -> Funnel:
    """The scenario (``path``, else SCENARIO), or every problem on stderr and an exit."""
    try:
        return load_funnel(path or settings.scenario, settings.timezone)
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(SCENARIO_BROKEN)


def with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database read-only in spirit: never create or migrate it, fail in one line."""
    url = make_url(settings.database_url)
    name = url.database
    local_file = url.get_backend_name() == "sqlite" and name and name != ":memory:"
    if local_file and not Path(str(name)).exists():
        fail(f"no database at {name}: start the bot or run `leadbot db upgrade`", 1)

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            revision = await db.current_revision()
            if revision is None:
                fail("the database has no lead log yet: run `leadbot db upgrade`", 1)
            if revision != HEAD_REVISION:
                fail(
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
        fail(f"database error: {first}", 1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def lead_filter(
    settings: Settings,
    moment: datetime,
    *,
    segment: str | None = None,
    stage: str | None = None,
    status: str | None = None,
    source: str | None = None,
    channel: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    funnel: Funnel | None = None,
    language: str | None = None,
) -> LeadFilter:
    """The shared filter options, checked, as the storage's lead criteria.

    Given the scenario, a segment it does not have is refused with the ones it has
    (an unknown segment would only ever list nobody).
    """
    if segment is not None and funnel is not None and segment != NONE_LABEL:
        have = list(funnel.scenario.segments)
        if segment not in have:
            fail(f"--segment {segment!r}: use one of {', '.join([*have, NONE_LABEL])}")
    if stage is not None and stage not in STAGES:
        fail(f"--stage {stage!r}: use one of {', '.join(STAGES)}")
    if status is not None and status not in STATUSES:
        fail(f"--status {status!r}: use one of {', '.join(STATUSES)}")
    if limit is not None and limit < 1:
        fail("--limit must be at least 1")
    tz = ZoneInfo(settings.timezone)
    try:
        start = parse_moment(since, moment, tz) if since else None
        end = parse_moment(until, moment, tz, end=True) if until else None
    except PeriodError as exc:
        fail(str(exc))
    if start is not None and end is not None and start >= end:
        fail("--since must be before --until")
    if language is not None and not re.fullmatch(r"[A-Za-z]{2,3}", language):
        fail(f"--language {language!r}: a two-letter language code such as ru or en")
    return LeadFilter(segment, stage, status, source, channel, start, end, limit, language=language)
