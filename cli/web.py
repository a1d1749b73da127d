"""``leadbot web``: the managers' dashboard served alone (docs/managers.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.wiring import setup_logging
from cli.common import fail, run, settings_or_exit


def web_command(
    port: Annotated[int | None, typer.Option(help="Port (default: WEB_PORT, else 8081).")] = None,
    login: Annotated[
        int | None, typer.Option(help="Print a one-time sign-in link for this admin id.")
    ] = None,
) -> None:
    """Serve the managers' web dashboard alone (docs/managers.md)."""
    settings = settings_or_exit(**({"web_port": port} if port else {}))
    setup_logging(settings.log_level)
    if login is not None and login not in settings.admin_ids:
        fail(f"{login} is not in ADMIN_IDS: only admins may open the dashboard")
    # Lazy on purpose: aiohttp, aiogram and Jinja2 take seconds to import; only `web` needs them.
    from app.aiogram_types import import_aiogram

    import_aiogram()  # before anything imports aiogram: its types built when first used
    from app.dashboard import serve_alone

    run(serve_alone(settings, login=login))


def register(app: typer.Typer) -> None:
    app.command("web")(web_command)
