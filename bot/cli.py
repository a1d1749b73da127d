"""The ``leadbot`` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from bot.scenario.loader import ScenarioError, load_funnel
from bot.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="leadbot: qualify and warm sales leads in Telegram along a scenario file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc))


@app.command()
def validate(
    path: Annotated[Path | None, typer.Argument(help="Scenario file (default: SCENARIO).")] = None,
) -> None:
    """Check a scenario file: print "ok" or every mistake with file and line."""
    settings = settings_or_exit()
    target = path or settings.scenario
    try:
        funnel = load_funnel(target, settings.timezone)
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        count = len(exc.problems)
        fail(f"{count} problem{'s' if count != 1 else ''} found", 1)
    typer.echo(f"ok ({len(funnel.steps)} steps, {len(funnel.scenario.segments)} segments)")


@app.command()
def chat(
    user: Annotated[int, typer.Option(help="Simulated Telegram user id.")] = 1,
    source: Annotated[str | None, typer.Option(help="Deep-link source to start with.")] = None,
    name: Annotated[str, typer.Option(help="Prospect's first name.")] = "Tester",
    phone: Annotated[
        str, typer.Option(help="Phone shared by the contact button.")
    ] = "+79991234567",
    scenario: Annotated[Path | None, typer.Option(help="Scenario file.")] = None,
) -> None:
    """Play the funnel in the terminal (same engine, real database; /skip jumps over waits)."""
    from bot.app import open_app
    from bot.simulator import run_chat

    settings = settings_or_exit(scenario=scenario)

    async def main() -> None:
        async with open_app(settings) as application:
            await run_chat(application.service, user, source, name, phone)

    _run(main())


@app.command()
def run() -> None:
    """Run the Telegram bot: long polling, or a webhook server when WEBHOOK_URL is set."""
    from bot.app import setup_logging
    from bot.telegram.preflight import StartupError, check_settings

    settings = settings_or_exit()
    try:
        check_settings(settings)
    except StartupError as exc:
        fail(str(exc), exc.code)
    setup_logging(settings.log_level)
    from bot.telegram.runner import run_bot  # aiogram takes a while to import

    try:
        _run(run_bot(settings))
    except StartupError as exc:
        fail(str(exc), exc.code)


@app.command("web")
def web_cmd(
    port: Annotated[int | None, typer.Option(help="Port (default: WEB_PORT, else 8081).")] = None,
    login: Annotated[
        int | None, typer.Option(help="Print a one-time sign-in link for this admin id.")
    ] = None,
) -> None:
    """Serve the managers' web dashboard alone (docs/managers.md)."""
    from bot.app import setup_logging
    from web.serve import serve_alone

    settings = settings_or_exit(**({"web_port": port} if port else {}))
    setup_logging(settings.log_level)
    if login is not None and login not in settings.admin_ids:
        fail(f"{login} is not in ADMIN_IDS: only admins may open the dashboard")
    _run(serve_alone(settings, login=login))


@app.command("eval")
def eval_(
    data: Annotated[Path, typer.Argument(help="Labelled examples: one JSON object a line.")],
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the offline classifier even with a key.")
    ] = False,
    scenario: Annotated[Path | None, typer.Option(help="Scenario file.")] = None,
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Examples classified at once.")] = 4,
) -> None:
    """Score the classifier on labelled examples: accuracy, F1, confusion, fallbacks, cost."""
    from bot.qualification.evaluate import EvalDataError
    from bot.qualification.report import run_eval

    settings = settings_or_exit(scenario=scenario)
    try:
        _run(run_eval(settings, data, offline=offline, jobs=jobs))
    except EvalDataError as exc:
        fail(f"error: {exc}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the latest version (keeps all lead data)."""
    from storage.db import Database

    settings = settings_or_exit()

    async def main() -> None:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            typer.echo(f"database at revision {await db.current_revision()}")
        finally:
            await db.close()

    _run(main())


@db_app.command("prune")
def db_prune(
    days: Annotated[
        int | None, typer.Option(help="Keep this many days (default: RETENTION_DAYS).")
    ] = None,
) -> None:
    """Erase personal data of leads quiet for longer than the retention period."""
    from datetime import UTC, datetime, timedelta

    from bot.app import open_app
    from bot.privacy import prune

    settings = settings_or_exit()
    keep = days if days is not None else settings.retention_days
    if keep <= 0:
        fail("no retention period: set RETENTION_DAYS or pass --days N")

    async def main() -> None:
        async with open_app(settings) as application:
            count = await prune(
                application.db, application.scenario.funnel, datetime.now(UTC), timedelta(days=keep)
            )
        typer.echo(f"erased the personal data of {count} lead(s) quiet for over {keep} days")

    _run(main())


@app.command()
def forget(
    lead_id: Annotated[int, typer.Argument(help="The lead's id (see `leadbot leads`).")],
) -> None:
    """Erase one lead's personal data; an anonymous record stays for the statistics."""
    from datetime import UTC, datetime

    from bot.app import open_app
    from bot.privacy import forget_lead

    settings = settings_or_exit()

    async def main() -> None:
        async with open_app(settings) as application:
            found = await forget_lead(
                application.db,
                application.scenario.funnel,
                lead_id,
                datetime.now(UTC),
                "asked by an operator",
            )
        if not found:
            fail(f"no lead with id {lead_id}", 1)
        typer.echo(f"lead {lead_id}: personal data erased")

    _run(main())


def _run(coro: object) -> None:
    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail("the scenario has errors; fix them or run `leadbot validate`")
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        fail(f"error: {exc}")


def _register_commands() -> None:
    from bot.broadcast_cli import register as register_broadcasts
    from bot.operator.cli import register
    from bot.reports.cli import register as register_reports

    register(app)
    register_reports(app)  # leads, lead, export, report: the lead log for managers
    register_broadcasts(app)  # audience, broadcast, winback: mailings and win-back


_register_commands()


def main() -> None:
    app()
