"""``leadbot run`` without the command line around it: no typer, click or rich.

``cli.main`` hands a bare ``leadbot run`` (the command takes no arguments) straight to
``run_bot_command`` here, so the long-running bot never imports the command-line machinery
(typer, click, shellingham) nor ``cli.common``'s filters and the storage criteria behind
them: ~1.2 MB resident for the life of the process. ``leadbot run --help`` and every other
command still go through typer (``cli.funnel`` registers this same function as ``run``).

Mistakes end the way ``cli.common.fail`` ends them: one line on stderr, a non-zero exit.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

from app.preflight import StartupError, check_settings
from app.wiring import setup_logging
from bot.scenario.loader import ScenarioError
from bot.settings import Settings, SettingsError, load_settings

SCENARIO_BROKEN = "the scenario has errors; fix them or run `leadbot validate`"


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit (``cli.common.fail`` without typer)."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(code)


def run(coro: Coroutine[Any, Any, object]) -> None:
    """Run the bot's coroutine; a broken scenario, Ctrl-C or an OS error end in one line."""
    try:
        asyncio.run(coro)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        fail(SCENARIO_BROKEN)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        fail(f"error: {exc}")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def run_bot_command() -> None:
    """Run the Telegram bot: long polling, or a webhook server when WEBHOOK_URL is set."""
    settings = settings_or_exit()
    try:
        check_settings(settings)
    except StartupError as exc:
        fail(str(exc), exc.code)
    setup_logging(settings.log_level)
    # Lazy on purpose: aiogram and aiohttp take seconds to import; only `run` needs them.
    from app.aiogram_types import import_aiogram

    import_aiogram()  # before anything imports aiogram: its types built when first used
    from app.heap import settle_heap
    from app.runner import run_bot

    try:
        run(run_bot(settings, ready=settle_heap))
    except StartupError as exc:
        fail(str(exc), exc.code)
