"""Editing the scenario while the bot serves: a broken edit is reported, a fixed one serves."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

from app.runner import run_bot
from fakes.bot_api import FakeBotAPI
from tests.e2e.harness import MINI
from tests.e2e.test_run import settings_for

ADMIN = 4242
USER = 777


async def test_edit_break_fix_while_serving(tg: FakeBotAPI, tmp_path: Path) -> None:
    scenario = tmp_path / "mini.yaml"
    shutil.copy(MINI, scenario)
    shutil.copytree(MINI.parent / "assets", tmp_path / "assets")
    settings = settings_for(tg, tmp_path, scenario=scenario, admin_ids=[ADMIN])
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, polling_timeout=1))
    try:
        tg.push_update(tg.message_update(USER, "/start"))
        await tg.wait_for_sent(USER, "What do you need?")

        original = scenario.read_text()
        scenario.write_text(original.replace("    - wait: 2h\n", "    - wait: 2 dayz\n"))
        notice = await tg.wait_for_sent(ADMIN, "NOT reloaded", timeout=10)
        assert "'2 dayz' is not a duration" in (notice.text or "")
        assert "mini.yaml:" in (notice.text or "")
        question = tg.sent(USER)[-1]
        tg.push_update(tg.callback_update(USER, question.callback_data[0]))
        await tg.wait_for_sent(USER, "Your budget?")  # the old scenario keeps serving

        scenario.write_text(original.replace("Your budget?", "What budget do you have?"))
        os.kill(os.getpid(), signal.SIGHUP)  # what an operator's `kill -HUP` does
        await tg.wait_for_sent(ADMIN, "scenario reloaded", timeout=10)
        tg.push_update(tg.message_update(USER, "/start"))
        await tg.wait_for_sent(USER, "What budget do you have?", timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
