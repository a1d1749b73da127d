"""The outbound webhook for CRMs: chosen lead events POSTed as signed JSON.

The service hands every saved outcome to ``publish``, which only queues; one background
task POSTs, retrying with exponential backoff. A CRM that is slow or down costs the funnel
nothing: failures are logged and the event is dropped after the last attempt. The payload
and the signature are described in docs/managers.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp

from bot.engine.types import Alert, Log, Outcome
from bot.managers.outbox import Outbox
from bot.managers.staff import contact_allowed
from bot.service import Clock, FunnelService, ScenarioHolder
from bot.settings import Settings
from bot.vocabulary import EventType
from storage.privacy import PERSONAL_PAYLOAD

log = logging.getLogger(__name__)

#: Lead-log events a CRM may ask for; ``hot_segment`` is the engine's alert, not a log event.
LOGGED = frozenset(
    {
        EventType.CLASSIFIED,
        EventType.CONTACT_SHARED,
        EventType.HANDED_OFF,
        EventType.TAKEN,
        EventType.RELEASED,
        EventType.OFFER_CLICKED,
    }
).union({EventType.ORDER_PAID})
SIGNATURE_HEADER = "X-Leadbot-Signature"
MAX_DELAY = 60.0


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _events(outcome: Outcome) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    for action in outcome.actions:
        if isinstance(action, Log) and action.type in LOGGED:
            yield action.type, action.step, action.payload
        elif isinstance(action, Alert) and action.reason == "hot_segment":
            yield "hot_segment", action.step, {}


def _details(payload: dict[str, Any]) -> dict[str, Any]:
    """The event's own facts, without what the prospect typed or the model said about them."""
    return {k: v for k, v in payload.items() if k not in PERSONAL_PAYLOAD}


class CrmWebhook:
    """An ``EventSink`` for the service; ``start``/``stop`` with the bot."""

    def __init__(
        self,
        url: str,
        secret: str,
        scenario: ScenarioHolder,
        clock: Clock,
        *,
        attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.secret = secret.encode()
        self.scenario = scenario
        self.clock = clock
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.outbox = Outbox("crm-webhook")
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings, service: FunnelService) -> CrmWebhook | None:
        """The webhook CRM_WEBHOOK_URL asks for, or None when it is not set."""
        if settings.crm_webhook_url is None or settings.crm_webhook_secret is None:
            return None
        secret = settings.crm_webhook_secret.get_secret_value()
        return cls(settings.crm_webhook_url, secret, service.scenario, service.clock)

    def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        self.outbox.start()

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a bounded shutdown
        await self.outbox.stop(timeout)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def publish(self, lead_id: int, outcome: Outcome) -> None:
        funnel = self.scenario.funnel
        wanted = set(funnel.scenario.crm_events)
        for name, step, payload in _events(outcome):
            if name in wanted:
                body = self.payload(lead_id, name, step, payload, outcome)
                self.outbox.put(lambda body=body: self._deliver(body))  # type: ignore[misc]

    def payload(
        self, lead_id: int, name: str, step: str | None, details: dict[str, Any], outcome: Outcome
    ) -> dict[str, Any]:
        st = outcome.state
        funnel = self.scenario.funnel
        contact = None
        if st.has_contact and contact_allowed(st.consent, funnel.scenario.require_consent):
            name_ = " ".join(x for x in (st.first_name, st.last_name) if x)
            contact = {"name": name_, "username": st.username or None}
            contact |= {"phone": st.phone, "email": st.email}
        return {
            "id": uuid.uuid4().hex,
            "event": name,
            "time": self.clock().isoformat(),
            "lead_id": lead_id,
            "source": st.source,
            "segment": st.segment,
            "stage": st.stage,
            "status": st.status,
            "step": step or st.step,
            "contact": contact,
            "details": _details(details),
            "scenario_version": funnel.version,
        }

    async def _deliver(self, payload: dict[str, Any]) -> None:
        """POST one event, retrying a few times; never raises for the CRM's sake."""
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-Leadbot-Event": payload["event"],
            "X-Leadbot-Delivery": payload["id"],
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        what = f"{payload['event']} of lead {payload['lead_id']}"
        for attempt in range(1, self.attempts + 1):
            delay = min(self.backoff * 2 ** (attempt - 1), MAX_DELAY)
            try:
                async with self._session.post(self.url, data=body, headers=headers) as response:
                    if response.status < 300:
                        return
                    if response.status < 500 and response.status not in {408, 429}:
                        log.error("CRM refused %s: HTTP %s; not retried", what, response.status)
                        return
                    delay = max(delay, _retry_after(response.headers.get("Retry-After")))
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == self.attempts:
                log.error("CRM did not take %s after %d attempts: %s", what, attempt, problem)
                return
            log.warning("CRM: %s failed (%s); retrying in %.0fs", what, problem, delay)
            await asyncio.sleep(delay)


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), MAX_DELAY) if value else 0.0
    except ValueError:
        return 0.0
