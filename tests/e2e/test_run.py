"""``leadbot run``: polling and webhook modes, the secret token, a graceful stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.runner import run_bot
from bot.settings import Settings
from fakes.bot_api import FakeBotAPI
from storage.db import Database
from storage.models import Event, Lead
from tests.e2e.harness import MINI, TOKEN, GatedQualifier, until

USER = 901
ROOT = Path(__file__).resolve().parents[2]
HOOK = "https://bot.example.test/tg/hook"
SECRET = "right-secret_1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loop_handles_sigterm() -> bool:
    """True once the running loop has taken SIGTERM over (``loop.add_signal_handler``)."""
    return getattr(signal.getsignal(signal.SIGTERM), "__name__", "") == "_sighandler_noop"


def settings_for(tg: FakeBotAPI, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "telegram_api_url": tg.base_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        "scenario": MINI,
        "openai_api_key": None,
        "webhook_url": None,
        "webhook_secret": None,
        **overrides,
    }
    return Settings(_env_file=None, **values)


async def stored(settings: Settings) -> tuple[list[Lead], list[str]]:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            leads = list((await session.execute(select(Lead))).scalars())
            types = list((await session.execute(select(Event.type).order_by(Event.id))).scalars())
        return leads, types
    finally:
        await db.close()


async def test_webhook_checks_the_secret_and_handles_updates(
    tg: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings_for(
        tg,
        tmp_path,
        webhook_url=HOOK,
        webhook_secret=SECRET,
        webhook_host="127.0.0.1",
        webhook_port=port,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, touch_interval=0.1))
    try:
        registered = await tg.wait_for(lambda c: c.method == "setWebhook")
        assert registered.ok and registered.params["url"] == HOOK
        assert registered.params["secret_token"] == SECRET
        assert set(registered.params["allowed_updates"]) >= {"message", "callback_query"}

        local = f"http://127.0.0.1:{port}/tg/hook"
        start = tg.message_update(USER, "/start from_web")
        assert await tg.post_webhook(local, start, secret="wrong") == 401
        assert await tg.post_webhook(local, start) == 401  # no header at all
        assert tg.sent() == []
        assert await tg.post_webhook(local, start, secret=SECRET) == 200
        assert "What do you need?" in tg.sent_texts(USER)  # handled before the answer
        question = tg.sent(USER)[-1]
        press = tg.callback_update(USER, question.callback_data[0], question.result["message_id"])
        assert await tg.post_webhook(local, press, secret=SECRET) == 200
        assert "Your budget?" in tg.sent_texts(USER)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert tg.webhook["url"] == HOOK  # kept: Telegram holds updates while the bot is away
    leads, types = await stored(settings)
    assert [(lead.user_id, lead.source) for lead in leads] == [(USER, "from_web")]
    assert types[:4] == ["started", "step_sent", "question_asked", "answer_given"]


async def test_polling_removes_a_webhook_and_finishes_updates_in_flight(
    tg: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = GatedQualifier()
    monkeypatch.setattr("app.wiring.make_qualifier", lambda settings: slow)
    tg.webhook = {"url": HOOK, "secret_token": None, "allowed_updates": None}
    settings = settings_for(tg, tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(settings, stop=stop, polling_timeout=1))
    await tg.wait_for(lambda c: c.method == "deleteWebhook" and c.ok)
    assert tg.webhook == {}

    tg.push_update(tg.message_update(USER, "/start"))
    question = await tg.wait_for_sent(USER, "What do you need?")
    tg.push_update(tg.callback_update(USER, question.callback_data[0]))
    budget = await tg.wait_for_sent(USER, "Your budget?")
    tg.push_update(tg.callback_update(USER, budget.callback_data[0]))
    await tg.wait_for_sent(USER, "Tell us about your office.")
    tg.push_update(tg.message_update(USER, "We want to buy"))
    await tg.wait_for_sent(USER, "Leave your phone?")
    last = tg.push_update(tg.contact_update(USER, "+79991234567"))
    await slow.waiting.wait()

    stop.set()  # SIGTERM, in effect, while the classification is still running
    asyncio.get_running_loop().call_later(0.5, slow.gate.set)
    await asyncio.wait_for(task, 10)
    assert "Machine X for User901" in tg.sent_texts(USER)  # the update was finished
    confirm = tg.calls_of("getUpdates")[-1]
    assert confirm.params["offset"] == last["update_id"] + 1  # a restart will not replay it
    leads, types = await stored(settings)
    assert leads[0].segment == "hot" and types[-2:] == ["offer_shown", "touch_scheduled"]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "BOT_"))}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        SCENARIO=str(MINI),
        OPENAI_API_KEY="",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def test_run_without_a_token_says_so_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "Setting BOT_TOKEN: required to run the bot"


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_sigterm_stops_the_bot_gracefully(
    tg: FakeBotAPI, tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The real signal path (no ``stop`` event): aiogram's handlers, or ours for the webhook."""
    webhook = {"webhook_url": HOOK, "webhook_port": free_port(), "webhook_host": "127.0.0.1"}
    settings = settings_for(tg, tmp_path, **(webhook if mode == "webhook" else {}))
    caplog.set_level(logging.INFO)
    assert not loop_handles_sigterm()
    task = asyncio.create_task(run_bot(settings, polling_timeout=1))
    await until(loop_handles_sigterm)  # never send SIGTERM to pytest unguarded
    if mode == "polling":
        tg.push_update(tg.message_update(USER, "/start"))
        await tg.wait_for_sent(USER, "What do you need?")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 10)
    assert any(r.message == "stopped" for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
