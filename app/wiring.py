"""Building the application's parts from settings, in one place for every command.

The scenario and the qualifier are loaded by ``bot`` helpers (``leadbot eval`` needs them
without a database); what is wired here is the database and the service around them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.knowledge.configured import make_librarian
from bot.privacy import RedactingFilter
from bot.qualification.configured import make_qualifier
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, ScenarioHolder
from bot.settings import Settings
from storage.db import Database


@dataclass
class App:
    settings: Settings
    db: Database
    scenario: ScenarioHolder
    service: FunnelService


def load_scenario(settings: Settings) -> Funnel:
    return load_funnel(settings.scenario, settings.timezone)


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    """Load the scenario, open and migrate the database, wire the service; close on exit."""
    funnel = load_scenario(settings)
    db = Database(settings.database_url)
    qualifier = make_qualifier(settings)
    librarian = make_librarian(settings)
    try:
        await db.upgrade()
        holder = ScenarioHolder(funnel)
        service = FunnelService(db, holder, qualifier, librarian=librarian)
        yield App(settings, db, holder, service)
    finally:
        for owner in (qualifier, librarian):
            close = getattr(owner, "aclose", None)
            if close is not None:
                await close()
        await db.close()


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # aiogram logs one INFO line per handled update ("Update id=… is handled"): at a
        # campaign's rate that is most of the log and ~2% of the CPU. LOG_LEVEL=DEBUG
        # brings it back; the bot's own INFO lines stay either way.
        logging.getLogger("aiogram.event").setLevel(logging.WARNING)
