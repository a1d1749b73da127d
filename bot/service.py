"""The funnel service: load a lead, run the engine, persist the outcome, deliver it.

Handlers (Telegram), the simulator (terminal) and the touch dispatcher all come through
here, so every face logs the same events in the same way.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, Protocol

from bot.engine.engine import Engine
from bot.engine.quiet import hold
from bot.engine.types import (
    Alert,
    AskKnowledge,
    Blocked,
    Broadcast,
    CancelTimers,
    ClassifyRequest,
    Input,
    LeadState,
    Log,
    Outcome,
    OutMessage,
    RecordOrder,
    Release,
    SaveAnswer,
    Schedule,
    TimerFired,
)
from bot.knowledge.librarian import Librarian, OfflineLibrarian
from bot.qualification import Qualifier
from bot.scenario.funnel import Funnel
from bot.scenario.model import ZERO_DECIMAL, MessageStep, OfferStep
from storage import broadcasts
from storage.db import Database
from storage.models import Lead
from storage.repo import LeadRepo, TouchRepo

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RecipientGone(Exception):
    """The prospect blocked the bot or deleted the account (Telegram's 403)."""


class SendRejected(Exception):
    """The platform refused this one message (e.g. Telegram's 400); the funnel goes on."""


class Notifier(Protocol):
    """Where the engine's alerts go (the managers' chat, a CRM)."""

    async def alert(self, lead_id: int, reason: str, step: str | None, note: str = "") -> None: ...


class EventSink(Protocol):
    """Hears every saved outcome (a CRM webhook); it must only queue work, never wait."""

    def publish(self, lead_id: int, outcome: Outcome) -> None: ...


@dataclass(frozen=True, slots=True)
class Handover:
    """What a manager's Take or Return did: ``done``, and the lead's status afterwards."""

    lead_id: int
    done: bool
    status: str  # "missing" when there is no such lead


class Channel(Protocol):
    """A face that can show the engine's messages to one prospect."""

    async def send(self, message: OutMessage) -> None: ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...


class Due(NamedTuple):
    """A claimed row of the touch queue."""

    touch_id: int
    lead_id: int
    token: int
    kind: str
    broadcast_id: int | None = None


@dataclass(frozen=True, slots=True)
class LeadKey:
    channel: str
    user_id: int


@dataclass(slots=True)
class Result:
    """What one input did: the lead's id, its final state, and a notice for a button press."""

    lead_id: int
    state: LeadState
    toast: str | None
    delivered: list[OutMessage]


class ScenarioHolder:
    """The scenario in force; swapped as a whole so a reload never serves a half-state."""

    def __init__(self, funnel: Funnel) -> None:
        self.swap(funnel)

    def swap(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.engine = Engine(funnel)


class FunnelService:
    def __init__(
        self,
        db: Database,
        scenario: ScenarioHolder,
        qualifier: Qualifier,
        clock: Clock = utcnow,
        notifier: Notifier | None = None,
        librarian: Librarian | None = None,
    ) -> None:
        self.db = db
        self.librarian: Librarian = librarian or OfflineLibrarian()
        self.notifier = notifier
        self.sinks: list[EventSink] = []
        self.scenario = scenario
        self.qualifier = qualifier
        self.clock = clock
        self._locks: weakref.WeakValueDictionary[LeadKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @asynccontextmanager
    async def _serial(self, key: LeadKey) -> AsyncIterator[None]:
        """One update at a time per lead in this process (the row lock covers others)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield

    async def handle(
        self, key: LeadKey, event: Input, channel: Channel, touch_id: int | None = None
    ) -> Result:
        """Run one input for one lead: persist what it changes, then deliver the messages."""
        async with self._serial(key):
            lead_id, outcome = await self._apply(key, event, touch_id)
            toast = outcome.toast
            delivered, gone = await self._deliver(key, lead_id, outcome, channel)
            await self._alert(lead_id, outcome)
            for _ in range(4):
                # Issue 13 hook: an off-script question is looked up like a classification.
                ask = next((a for a in outcome.actions if isinstance(a, AskKnowledge)), None)
                request = next((a for a in outcome.actions if isinstance(a, ClassifyRequest)), None)
                if (request is None and ask is None) or gone:
                    break
                if ask is not None:
                    async with channel.typing():
                        follow: Input = await self.librarian.look_up(self.scenario.funnel, ask)
                else:
                    assert request is not None
                    answers = {k: v for k, _, v in request.answers}
                    async with channel.typing():
                        follow = await self.qualifier.qualify(self.scenario.funnel, answers)
                lead_id, outcome = await self._apply(key, follow)
                more, gone = await self._deliver(key, lead_id, outcome, channel)
                delivered += more
                await self._alert(lead_id, outcome)
            return Result(lead_id, outcome.state, toast, delivered)

    async def _alert(self, lead_id: int, outcome: Outcome) -> None:
        """Tell managers about hot moments; a failing notifier never stops the funnel."""
        self._publish(lead_id, outcome)
        if self.notifier is None:
            return
        for action in outcome.actions:
            if isinstance(action, Alert):
                try:
                    if action.note:
                        await self.notifier.alert(
                            lead_id, action.reason, action.step, note=action.note
                        )
                    else:
                        await self.notifier.alert(lead_id, action.reason, action.step)
                except Exception:
                    log.exception("lead %s: the manager alert failed", lead_id)

    def _publish(self, lead_id: int, outcome: Outcome) -> None:
        for sink in self.sinks:
            try:
                sink.publish(lead_id, outcome)
            except Exception:
                log.exception("lead %s: an event sink failed", lead_id)

    async def _key_of(self, lead_id: int) -> LeadKey | None:
        async with self.db.session() as session:
            lead = await LeadRepo(session).by_id(lead_id)
            return LeadKey(lead.channel, lead.user_id) if lead is not None else None

    async def take(self, lead_id: int, by: str, manager_id: int | None = None) -> Handover:
        """A manager takes the lead: touches cancelled, the bot silent until released.

        Only an active lead, or one already with managers (a hand-off step, another
        manager), can be taken: the bot is not writing to the others anyway.
        """
        key = await self._key_of(lead_id)
        if key is None:
            return Handover(lead_id, False, "missing")
        async with self._serial(key):
            now = self.clock()
            async with self.db.session() as session, session.begin():
                repo = LeadRepo(session)
                lead = await repo.get_for_update(key.channel, key.user_id)
                if lead is None:
                    return Handover(lead_id, False, "missing")
                if lead.status not in {"active", "handed_off"}:
                    return Handover(lead_id, False, lead.status)
                await TouchRepo(session).cancel_pending(lead.id, now)
                lead.status = "handed_off"
                # told_handed_off (issue 13): a manager writes in person, so the bot stays
                # silent; the prospect's messages still reach the managers' chat.
                lead.state = {
                    **(lead.state or {}),
                    "timer": 0,
                    "draft": "",
                    "told_handed_off": True,
                }
                lead.updated_at = now
                taken = Log("taken", lead.step, {"by": by, "manager_id": manager_id})
                version = self.scenario.funnel.version
                repo.add_events(lead.id, [(taken.type, taken.step, taken.payload)], now, version)
                state = state_from_lead(lead, {})
        self._publish(lead_id, Outcome(state, [taken]))
        return Handover(lead_id, True, "handed_off")

    async def release(
        self, lead_id: int, by: str, channel_for: Callable[[Lead], Channel]
    ) -> Handover:
        """Give a lead back to the bot: the engine's ``Release`` resumes its chain."""
        async with self.db.session() as session:
            lead = await LeadRepo(session).by_id(lead_id)
            if lead is None:
                return Handover(lead_id, False, "missing")
            if lead.status != "handed_off":
                return Handover(lead_id, False, lead.status)
            key, channel = LeadKey(lead.channel, lead.user_id), channel_for(lead)
        result = await self.handle(key, Release(by), channel)
        return Handover(lead_id, result.state.status != "handed_off", result.state.status)

    async def fire_touch(self, due: Due, channel_for: Callable[[Lead], Channel]) -> None:
        """Run a touch the dispatcher claimed, then mark it sent.

        Chain touches and mailings keep to the sending window; a reply the prospect is
        waiting for (the pause after typing) does not.
        """
        async with self.db.session() as session:
            lead = await LeadRepo(session).by_id(due.lead_id)
            key = LeadKey(lead.channel, lead.user_id) if lead else None
            channel = channel_for(lead) if lead else None
            mailing = await broadcasts.get(session, due.broadcast_id) if due.broadcast_id else None
        if key is None or channel is None:
            await self._finish_touch(due.touch_id, "cancelled")
            return
        if mailing is not None and mailing.state != "active":
            # Paused or cancelled after this batch was claimed: back to the queue, or dropped.
            if mailing.state == "cancelled":
                await self._finish_touch(due.touch_id, "cancelled")
            else:
                async with self.db.session() as session, session.begin():
                    await TouchRepo(session).postpone(due.touch_id, self.clock())
            return
        window = self.scenario.funnel.scenario.sending_window
        now = self.clock()
        if window is not None and due.kind != "reply":
            opens = hold(now, window.start, window.end, self.scenario.funnel.timezone)
            if opens != now:
                async with self.db.session() as session, session.begin():
                    await TouchRepo(session).postpone(due.touch_id, opens)
                    LeadRepo(session).add_events(
                        due.lead_id, [("touch_held", None, {"until": opens.isoformat()})], now
                    )
                return
        event: Input = TimerFired(due.token)
        if mailing is not None:
            message = MessageStep.model_validate(mailing.message) if mailing.message else None
            event = Broadcast(mailing.id, message=message, chain=mailing.chain)
        await self.handle(key, event, channel, touch_id=due.touch_id)
        await self._finish_touch(due.touch_id, "sent")

    async def _finish_touch(self, touch_id: int, state: str) -> None:
        async with self.db.session() as session, session.begin():
            await TouchRepo(session).finish(touch_id, state, self.clock())

    async def _apply(
        self, key: LeadKey, event: Input, touch_id: int | None = None
    ) -> tuple[int, Outcome]:
        now = self.clock()
        async with self.db.session() as session, session.begin():
            repo = LeadRepo(session)
            if touch_id is not None:
                # Committed with the state it produces: from here a crash means "maybe sent".
                await TouchRepo(session).mark_sending(touch_id)
            lead = await repo.get_or_create(key.channel, key.user_id, now)
            state = state_from_lead(lead, {a.key: a.answer for a in await repo.answers(lead.id)})
            if not state.seed:
                state.seed = zlib.crc32(f"{key.channel}:{key.user_id}".encode()) or 1
            outcome = self.scenario.engine.handle(state, event, now)
            touches = TouchRepo(session)
            events: list[tuple[str, str | None, dict[str, object]]] = []
            for action in outcome.actions:
                if isinstance(action, Log):
                    events.append((action.type, action.step, action.payload))
                elif isinstance(action, SaveAnswer):
                    await repo.save_answer(lead.id, action.key, action.question, action.value, now)
                elif isinstance(action, CancelTimers):
                    await touches.cancel_pending(lead.id, now)
                elif isinstance(action, RecordOrder):
                    factor = 1 if action.currency in ZERO_DECIMAL else 100
                    repo.add_order(
                        lead.id,
                        action.step,
                        action.tier,
                        action.title,
                        Decimal(action.amount) / factor,
                        action.currency,
                        action.charge_id,
                        now,
                    )
                elif isinstance(action, Schedule):
                    touches.schedule(
                        lead.id, action.due, action.step, action.token, now, action.kind
                    )
            repo.add_events(lead.id, events, now, self.scenario.funnel.version)
            lead_from_state(lead, outcome.state, now, self.scenario.funnel.version)
            return lead.id, outcome

    async def _deliver(
        self, key: LeadKey, lead_id: int, outcome: Outcome, channel: Channel
    ) -> tuple[list[OutMessage], bool]:
        """Send the outcome's messages; returns what went out and whether the lead is gone."""
        sent: list[OutMessage] = []
        for message in outcome.messages:
            try:
                await channel.send(message)
            except RecipientGone as exc:
                log.info("lead %s is unreachable: %s", lead_id, exc)
                await self._apply(key, Blocked(str(exc)))
                return sent, True
            except SendRejected as exc:
                log.warning("lead %s: step %s was rejected: %s", lead_id, message.step, exc)
                await self._log(lead_id, "error", message.step, {"reason": str(exc)[:500]})
            else:
                sent.append(message)
        return sent, False

    async def _log(
        self, lead_id: int, type_: str, step: str | None, payload: dict[str, object]
    ) -> None:
        async with self.db.session() as session, session.begin():
            LeadRepo(session).add_events(lead_id, [(type_, step, payload)], self.clock())

    def check_invoice(self, payload: str, currency: str, amount: int) -> str | None:
        """Before Telegram charges: None if the invoice is still on sale as issued, else why."""
        from bot.engine.engine import offer_of_payload

        placed = self.scenario.funnel.get(offer_of_payload(payload))
        step = placed.step if placed is not None else None
        if not isinstance(step, OfferStep) or not step.invoice:
            return "this offer is no longer available"
        if step.currency != currency or step.minor_units != amount:
            return "the price has changed; please open the offer again"
        return None

    async def forget(self, key: LeadKey) -> bool:
        """Erase a prospect's personal data at their request (after anything in flight)."""
        from bot.privacy import forget_user

        async with self._serial(key):
            return await forget_user(
                self.db, self.scenario.funnel, key.channel, key.user_id, self.clock()
            )

    async def skip_wait(self, key: LeadKey) -> bool:
        """Make the lead's next pending touch due now (for testers in the simulator)."""
        async with self.db.session() as session, session.begin():
            lead = await LeadRepo(session).get_for_update(key.channel, key.user_id)
            if lead is None:
                return False
            touches = TouchRepo(session)
            touch = await touches.next_pending(lead.id)
            if touch is None:
                return False
            await touches.make_due(touch.id, self.clock() - timedelta(seconds=1))
            return True

    async def fire_due(
        self,
        channel_for: Callable[[Lead], Channel],
        worker: str,
        limit: int = 100,
        lease: timedelta = timedelta(minutes=10),
        channel: str | None = None,
    ) -> int:
        """Claim and run due touches (of one channel's leads, if given); returns how many."""
        now = self.clock()
        async with self.db.session() as session, session.begin():
            claimed, doubtful = await TouchRepo(session).claim_due(
                now, limit, worker, lease, channel
            )
            batch = [Due(t.id, t.lead_id, t.token, t.kind, t.broadcast_id) for t in claimed]
            repo = LeadRepo(session)
            for touch in doubtful:
                log.warning(
                    "touch %s of lead %s may or may not have been sent", touch.id, touch.lead_id
                )
                repo.add_events(
                    touch.lead_id, [("delivery_unknown", touch.step, {"touch": touch.id})], now
                )
        for due in batch:
            await self.fire_touch(due, channel_for)
        return len(batch)


def state_from_lead(lead: Lead, answers: dict[str, str]) -> LeadState:
    state = LeadState(
        first_name=lead.first_name,
        last_name=lead.last_name,
        username=lead.username,
        language=lead.language,
        source=lead.source,
        segment=lead.segment,
        readiness=lead.readiness,
        confidence=lead.score,
        summary=lead.summary,
        stage=lead.stage,
        status=lead.status,  # type: ignore[arg-type]
        step=lead.step,
        phone=lead.phone,
        email=lead.email,
        answers=answers,
        flags=list(lead.flags or []),
        consent=lead.consent,
        consent_version=lead.consent_version,
        consent_at=lead.consent_at,
    )
    state.load_private(lead.state)
    return state


def lead_from_state(lead: Lead, state: LeadState, now: datetime, version: str) -> None:
    lead.first_name = state.first_name[:256]
    lead.last_name = state.last_name[:256]
    lead.username = state.username[:64]
    lead.language = state.language[:16]
    lead.source = state.source
    lead.segment = state.segment
    lead.readiness = state.readiness
    lead.score = state.confidence
    lead.summary = state.summary
    lead.stage = state.stage
    lead.status = state.status
    lead.step = state.step
    lead.phone = state.phone
    lead.email = state.email
    lead.flags = list(state.flags)
    lead.consent = state.consent
    lead.consent_version = state.consent_version
    lead.consent_at = state.consent_at
    lead.state = state.private()
    lead.scenario_version = version
    lead.updated_at = now
    lead.last_seen_at = now
