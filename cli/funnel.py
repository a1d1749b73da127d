"""``leadbot validate | chat | run``: check the scenario, play it, run the bot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.wiring import open_app
from bot.scenario.loader import ScenarioError, load_funnel, plural, summary
from bot.simulator import run_chat
from cli.common import fail, run, settings_or_exit
from cli.serve import run_bot_command


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
        fail(f"{plural(len(exc.problems), 'problem')} found", 1)
    for line in summary(funnel):
        typer.echo(line)


def chat(
    user: Annotated[int, typer.Option(help="Simulated Telegram user id.")] = 1,
    source: Annotated[str | None, typer.Option(help="Deep-link source to start with.")] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Prospect's first name [default: the stored one, or Tester]."),
    ] = None,
    phone: Annotated[
        str, typer.Option(help="Phone shared by the contact button.")
    ] = "+79991234567",
    scenario: Annotated[Path | None, typer.Option(help="Scenario file.")] = None,
) -> None:
    """Play the funnel in the terminal (same engine, real database; /skip jumps over waits)."""
    settings = settings_or_exit(scenario=scenario)

    async def main() -> None:
        async with open_app(settings) as application:
            await run_chat(application.service, user, source, name, phone)

    run(main())


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(chat)
    app.command("run")(run_bot_command)
