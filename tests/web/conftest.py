"""A dashboard on a real database with one lead, and helpers to sign in and sign requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.engine.types import Start, Text
from bot.managers.staff import Staff
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.bot_api import FakeBotAPI
from fakes.channels import Collect
from storage.db import Database
from tests.conftest import MINI, Clock
from web.app import build_app
from web.auth import Gate
from web.context import WebContext

TOKEN = "123456:TEST-web-token"
ADMIN = 777
STRANGER = 888
KEY = LeadKey("telegram", 1001)


def init_data(user_id: int, token: str = TOKEN, auth_date: int | None = None) -> str:
    """initData signed as Telegram signs it (HMAC-SHA256 keyed with "WebAppData")."""
    fields = {
        "auth_date": str(auth_date if auth_date is not None else int(time.time())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Olga", "language_code": "ru"}),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


@dataclass
class Dash:
    client: TestClient  # type: ignore[type-arg]
    ctx: WebContext
    chat: Collect
    lead_id: int

    async def sign_in(self) -> str:
        """Through a one-time link; returns the CSRF token from the first page."""
        token = self.ctx.gate.issue_link(ADMIN, "Olga (@olga)", "en")
        r = await self.client.post("/auth/link", data={"token": token})
        assert r.status == 200, await r.text()
        return csrf_of(await r.text())


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@pytest.fixture
async def dash(db: Database, mini: Funnel, clock: Clock) -> AsyncIterator[Dash]:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    chat = Collect()
    result = await service.handle(KEY, Start(source="vk", first_name="Ann"), chat)
    await service.handle(KEY, Text("hello there"), chat)
    ctx = WebContext(
        service=service,
        staff=Staff(frozenset({ADMIN})),
        gate=Gate(b"k" * 32, frozenset({ADMIN}), TOKEN),
        scenario_path=MINI,
        channel_for=lambda lead: chat,
    )
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    try:
        yield Dash(client, ctx, chat, result.lead_id)
    finally:
        await client.close()


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake
