"""``leadbot chat`` answers /help and /forget as Telegram does, through the same service."""

from __future__ import annotations

import io

from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, ScenarioHolder
from bot.simulator import run_chat
from storage.db import Database
from tests.conftest import Clock
from tests.integration.test_privacy import dump

NAME, PHONE = "Анна Секретова", "+79991234567"


async def test_help_shows_the_scenarios_help_text(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    out = io.StringIO()
    await run_chat(service, 901, None, NAME, PHONE, stdin=io.StringIO("/help\n/quit\n"), out=out)
    shown = out.getvalue()
    assert f"bot> {mini.scenario.texts.help}" in shown
    assert "/forget" in shown  # the simulator's own keys are listed too


async def test_forget_erases_the_leads_personal_data(
    db: Database, mini: Funnel, clock: Clock
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    script = io.StringIO("2\n1\nOur office is on Tverskaya 7\n/forget\n/quit\n")
    out = io.StringIO()
    before = io.StringIO()
    await run_chat(service, 902, None, NAME, PHONE, stdin=io.StringIO("/quit\n"), out=before)
    assert NAME in await dump(db)
    await run_chat(service, 902, None, NAME, PHONE, stdin=script, out=out)
    assert f"bot> {mini.scenario.texts.forgotten}" in out.getvalue()
    everything = await dump(db)
    assert NAME not in everything and "Tverskaya" not in everything
