"""``leadbot db upgrade | db prune`` and ``leadbot forget``: the schema and personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from app.wiring import open_app
from bot.privacy import forget_lead, prune
from cli.common import fail, now, run, settings_or_exit
from storage.db import Database

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the latest version (keeps all lead data)."""
    settings = settings_or_exit()

    async def main() -> None:
        db = Database(settings.database_url)
        try:
            await db.upgrade()
            typer.echo(f"database at revision {await db.current_revision()}")
        finally:
            await db.close()

    run(main())


@db_app.command("prune")
def db_prune(
    days: Annotated[
        int | None, typer.Option(help="Keep this many days (default: RETENTION_DAYS).")
    ] = None,
) -> None:
    """Erase personal data of leads quiet for longer than the retention period."""
    settings = settings_or_exit()
    keep = days if days is not None else settings.retention_days
    if keep <= 0:
        fail("no retention period: set RETENTION_DAYS or pass --days N")

    async def main() -> None:
        async with open_app(settings) as application:
            count = await prune(
                application.db, application.scenario.funnel, now(), timedelta(days=keep)
            )
        typer.echo(f"erased the personal data of {count} lead(s) quiet for over {keep} days")

    run(main())


def forget(
    lead_id: Annotated[int, typer.Argument(help="The lead's id (see `leadbot leads`).")],
) -> None:
    """Erase one lead's personal data; an anonymous record stays for the statistics."""
    settings = settings_or_exit()

    async def main() -> None:
        async with open_app(settings) as application:
            found = await forget_lead(
                application.db, application.scenario.funnel, lead_id, now(),
                "asked by an operator",
            )  # fmt: skip
        if not found:
            fail(f"no lead with id {lead_id}", 1)
        typer.echo(f"lead {lead_id}: personal data erased")

    run(main())


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command()(forget)
