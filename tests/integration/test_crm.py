"""The CRM webhook against a local HTTP receiver: signed, retried, and never in the way."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import update

from bot.engine.types import Contact, Start, Text
from bot.managers.crm import CrmWebhook
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from bot.settings import SettingsError, load_settings
from fakes.channels import Collect
from storage.db import Database
from storage.models import Lead
from tests.conftest import Clock
from tests.integration.test_service import KEY

SECRET = "test-secret-0123456789"
PHONE = "+79991234567"


class Receiver:
    """A CRM on 127.0.0.1: answers 500 to the first ``fail`` requests, then 200."""

    def __init__(self, fail: int = 0, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = 500 if len(self.requests) < self.fail else 200
        self.requests.append((dict(request.headers), body, status))
        await asyncio.sleep(self.delay)
        return web.Response(status=status)

    def accepted(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, status in self.requests if status == 200]


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def with_events(funnel: Funnel, *events: str) -> Funnel:
    scenario = funnel.scenario.model_copy(update={"crm_events": list(events)})
    return dataclasses.replace(funnel, scenario=scenario)


async def hot_lead(service: FunnelService, key: LeadKey = KEY) -> Collect:
    """A lead who shares a phone and is classified hot (offline classifier)."""
    chat = Collect()
    await service.handle(key, Start(source="vk_ads", first_name="Ann", username="ann"), chat)
    await service.handle(key, chat.press("Buy now"), chat)
    await service.handle(key, chat.press("Big"), chat)
    await service.handle(key, Text("We want to buy two machines"), chat)
    await service.handle(key, Contact(PHONE), chat)
    return chat


@asynccontextmanager
async def crm_for(service: FunnelService, url: str, **options: Any) -> AsyncIterator[CrmWebhook]:
    crm = CrmWebhook(url, SECRET, service.scenario, service.clock, backoff=0.05, **options)
    service.sinks.append(crm)
    crm.start()
    try:
        yield crm
    finally:
        await crm.stop(timeout=5)


async def test_events_are_signed_and_retried(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    async with receiving(Receiver(fail=1)) as crm_server, crm_for(service, crm_server.url) as crm:
        await hot_lead(service)
        await crm.outbox.join()
    requests = crm_server.requests
    first, retry = requests[0], requests[1]
    assert (first[2], retry[2]) == (500, 200)
    assert first[1] == retry[1]  # the same body, so the same delivery id and signature
    assert first[0]["X-Leadbot-Delivery"] == retry[0]["X-Leadbot-Delivery"]
    for headers, body, _ in requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Leadbot-Signature"], expected)
        assert headers["Content-Type"] == "application/json"
    events = crm_server.accepted()
    assert [e["event"] for e in events] == ["contact_shared", "classified", "hot_segment"]
    classified = events[1]
    assert classified["lead_id"] == 1 and classified["source"] == "vk_ads"
    assert (classified["segment"], classified["stage"], classified["step"]) == (
        "hot",
        "hot",
        "classify",
    )
    assert classified["time"] == clock.now.isoformat()
    assert classified["scenario_version"] == mini.version
    assert classified["contact"] == {
        "name": "Ann",
        "username": "ann",
        "phone": PHONE,
        "email": None,
    }
    assert classified["details"]["segment"] == "hot" and "reason" not in classified["details"]
    assert events[0]["segment"] is None  # the contact came before the classification


async def test_no_contact_without_consent(db: Database, mini: Funnel, clock: Clock) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    async with receiving(Receiver()) as crm_server, crm_for(service, crm_server.url) as crm:
        chat = Collect()
        await service.handle(KEY, Start(source="vk_ads", first_name="Ann"), chat)
        async with db.session() as session, session.begin():
            await session.execute(update(Lead).values(consent="declined"))
        await service.handle(KEY, chat.press("Buy now"), chat)
        await service.handle(KEY, chat.press("Big"), chat)
        await service.handle(KEY, Text("We want to buy"), chat)
        await service.handle(KEY, Contact(PHONE), chat)
        await crm.outbox.join()
    events = crm_server.accepted()
    assert len(events) == 3 and all(e["contact"] is None for e in events)
    assert PHONE not in json.dumps(events)


async def test_scenario_chooses_the_events(db: Database, mini: Funnel, clock: Clock) -> None:
    funnel = with_events(mini, "offer_clicked", "taken", "released")
    service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier(), clock)
    async with receiving(Receiver()) as crm_server, crm_for(service, crm_server.url) as crm:
        chat = await hot_lead(service)
        assert (await service.take(1, "Maria (@maria)", 555)).done
        assert (await service.release(1, "Maria (@maria)", lambda lead: chat)).done
        await service.handle(KEY, chat.press("I want it"), chat)
        await crm.outbox.join()
    events = crm_server.accepted()
    assert [e["event"] for e in events] == ["taken", "released", "offer_clicked"]
    assert events[0]["details"] == {"by": "Maria (@maria)", "manager_id": 555}
    assert events[0]["status"] == "handed_off"
    assert events[2]["details"]["title"] == "Machine X"


async def test_a_crm_that_is_down_costs_the_funnel_nothing(
    db: Database, mini: Funnel, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    slow = Receiver(fail=100, delay=0.3)
    async with receiving(slow) as crm_server, crm_for(service, crm_server.url, attempts=2) as crm:
        started = time.monotonic()
        chat = await hot_lead(service)
        assert time.monotonic() - started < 1.5  # 3 events x 2 slow attempts would be 1.8 s
        assert chat.sent[-1].text == "Machine X for Ann"
        with caplog.at_level(logging.WARNING, logger="bot.managers.crm"):
            await crm.outbox.join()
    assert len(slow.requests) == 6
    assert caplog.text.count("CRM did not take") == 3
    assert PHONE not in caplog.text

    service.sinks.clear()
    caplog.clear()
    async with crm_for(service, "http://127.0.0.1:9/nothing-listens", attempts=2) as crm:
        with caplog.at_level(logging.WARNING, logger="bot.managers.crm"):
            chat = await hot_lead(service, LeadKey("telegram", 1002))
            await crm.outbox.join()
    assert chat.sent[-1].text == "Machine X for Ann"
    assert caplog.text.count("CRM did not take") == 3


def test_settings_need_a_secret_with_the_url() -> None:
    with pytest.raises(SettingsError, match="CRM_WEBHOOK_SECRET: required"):
        load_settings(crm_webhook_url="https://crm.example/hook")
    with pytest.raises(SettingsError, match="CRM_WEBHOOK_SECRET: must be at least 16"):
        load_settings(crm_webhook_url="https://crm.example/hook", crm_webhook_secret="short")
    with pytest.raises(SettingsError, match="CRM_WEBHOOK_URL"):
        load_settings(crm_webhook_url="crm.example/hook", crm_webhook_secret=SECRET)
    settings = load_settings(crm_webhook_url="https://crm.example/hook/", crm_webhook_secret=SECRET)
    assert settings.crm_webhook_url == "https://crm.example/hook/"
