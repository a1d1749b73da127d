"""Live reload while leads are mid-chain: valid edits switch, broken ones never serve."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import select

from bot.engine.types import Start
from bot.qualification import OfflineQualifier
from bot.reload import Reloader, ReloadResult
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.models import Event
from tests.conftest import MINI, Clock


def copy_mini(tmp_path: Path) -> Path:
    shutil.copy(MINI, tmp_path / "mini.yaml")
    shutil.copytree(MINI.parent / "assets", tmp_path / "assets")
    return tmp_path / "mini.yaml"


async def test_valid_and_invalid_edits_while_leads_are_mid_chain(
    sqlite_db: Database, tmp_path: Path, clock: Clock
) -> None:
    path = copy_mini(tmp_path)
    holder = ScenarioHolder(load_funnel(path))
    notices: list[ReloadResult] = []

    async def notify(result: ReloadResult) -> None:
        notices.append(result)

    reloader = Reloader(holder, path, "Europe/Moscow", notify)
    service = FunnelService(sqlite_db, holder, OfflineQualifier(), clock)
    key = LeadKey("telegram", 1)
    chat = Collect()
    await service.handle(key, Start(first_name="Ann"), chat)
    await service.handle(key, chat.press("Buy now"), chat)  # at q_budget
    first = holder.funnel.version

    assert not (await reloader.reload()).changed
    broken = path.read_text().replace("    - wait: 2h\n", "    - wait: 2 dayz\n")
    path.write_text(broken)
    result = await reloader.reload()
    assert result.changed and not result.ok and holder.funnel.version == first
    assert any("mini.yaml:" in p and "'2 dayz' is not a duration" in p for p in result.problems)
    assert "NOT reloaded" in result.describe()
    assert not (await reloader.reload()).changed  # told once, not every poll
    # The prospect notices nothing: the old scenario answers.
    await service.handle(key, chat.press("Big"), chat)
    assert chat.sent[-1].text == "Tell us about your office."

    fixed = broken.replace("2 dayz", "2h").replace(
        "Tell us about your office.", "Tell us about your team."
    )
    fixed = fixed.replace("  - id: q_about\n", "  - id: q_team\n").replace(
        "scenario: 1\n", "scenario: 1\nmoved: {q_about: q_team}\n"
    )
    path.write_text(fixed)
    result = await reloader.reload()
    assert result.ok and holder.funnel.version != first
    assert [n.ok for n in notices] == [False, True]
    await service.handle(key, Start(first_name="Ann"), chat)  # comes back after the edit
    assert chat.sent[-1].text == "Tell us about your team."
    async with sqlite_db.session() as session:
        moved = (
            await session.execute(select(Event).where(Event.type == "step_moved"))
        ).scalar_one()
        versions = set((await session.execute(select(Event.scenario_version))).scalars())
    assert moved.payload["old"] == "q_about" and moved.payload["new"] == "q_team"
    assert versions == {first, holder.funnel.version}


async def test_watcher_picks_up_an_edit_and_sighup(tmp_path: Path, mini: Funnel) -> None:
    path = copy_mini(tmp_path)
    holder = ScenarioHolder(load_funnel(path))
    reloader = Reloader(holder, path, "Europe/Moscow")
    task = asyncio.create_task(reloader.watch(interval=0.05))
    try:
        path.write_text(path.read_text().replace("Hello, {first_name}!", "Hi, {first_name}!"))
        for _ in range(100):
            if holder.funnel.version != mini.version:
                break
            await asyncio.sleep(0.02)
        assert holder.funnel.scenario.interview[0].message == "Hi, {first_name}!"  # type: ignore[union-attr]
        reloader.trigger()  # what SIGHUP does
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
