"""The heart of the service: load a lead, run the engine, persist the outcome, deliver it.

Handlers (Telegram), the simulator (terminal) and the touch dispatcher all come through
``FunnelCore.handle``, so every face logs the same events in the same way. Touches and
managers' hand-overs build on it (``bot.service.touches``, ``bot.service.funnel``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
import zlib
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection

from bot.engine.types import (
    Alert,
    AskKnowledge,
    Blocked,
    CancelTimers,
    CheckMembership,
    Classified,
    ClassifyRequest,
    DecideJoin,
    Input,
    LeadState,
    Log,
    Looked,
    Membership,
    Outcome,
    OutMessage,
    RecordOrder,
    RecordSubscription,
    Resume,
    SaveAnswer,
    Schedule,
)
from bot.knowledge.librarian import Librarian, OfflineLibrarian
from bot.qualification import Qualifier
from bot.scenario.model import ZERO_DECIMAL, OfferStep
from bot.service.holder import ScenarioHolder
from bot.service.ports import (
    Channel,
    Clock,
    EventSink,
    LeadKey,
    Notifier,
    RecipientGone,
    RepeatedUpdate,
    Result,
    SendInDoubt,
    SendRejected,
    TouchLost,
    current_update,
    utcnow,
)
from bot.vocabulary import EventType, offer_of_payload
from storage.db import Database
from storage.leads import EventRow, LeadRace, LeadRepo
from storage.unit import Unit

log = logging.getLogger(__name__)

#: Follow-up rounds per input (a classification, a knowledge look-up, each may lead on).
MAX_FOLLOW_ROUNDS = 4
#: Seconds of waiting on the model before the prospect gets one holding message.
HOLD_AFTER = 2.5
#: Pending work's last-resort lease (its instance's heartbeat normally releases it sooner).
WORK_LEASE = timedelta(minutes=2)


class FunnelCore:
    """Runs inputs through the engine for one lead at a time, and delivers the result."""

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
        self.locks: weakref.WeakValueDictionary[LeadKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        #: This instance's id (``Presence.id``): pending work is held in its name.
        self.worker: str | None = None

    @asynccontextmanager
    async def serial(self, key: LeadKey) -> AsyncIterator[None]:
        """One update at a time per lead in this process (the row lock covers others)."""
        lock = self.locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self.locks[key] = lock
        async with lock:
            yield

    async def handle(
        self, key: LeadKey, event: Input, channel: Channel, touch_id: int | None = None
    ) -> Result:
        """Run one input for one lead: persist what it changes, then deliver the messages."""
        async with self.serial(key):
            try:
                lead_id, outcome = await self.apply(key, event, touch_id)
            except RepeatedUpdate:
                mark = current_update.get()
                if mark is not None:
                    mark.repeated = True
                log.info("update %s was handled before; dropped", mark and mark.update_id)
                return Result(0, LeadState(), None, [], repeated=True)
            toast = outcome.toast
            delivered, doubtful, gone = await self.deliver(key, lead_id, outcome, channel)
            await self.alert(lead_id, outcome)
            for _ in range(MAX_FOLLOW_ROUNDS):
                follow = await self.follow_up(outcome, channel)
                if follow is None or gone:
                    break
                lead_id, outcome = await self.apply(key, follow)
                more, unsure, gone = await self.deliver(key, lead_id, outcome, channel)
                delivered += more
                doubtful += unsure
                await self.alert(lead_id, outcome)
            return Result(lead_id, outcome.state, toast, delivered, doubtful)

    async def follow_up(self, outcome: Outcome, channel: Channel) -> Input | None:
        """Work the engine asked for outside its transaction: a classification or a look-up.

        The prospect sees "typing…" meanwhile and, past ``HOLD_AFTER`` seconds, one short
        holding message; the model's own budget (OPENAI_BUDGET) bounds the wait.
        """
        funnel = self.scenario.funnel.for_language(outcome.state.language)
        work: Awaitable[Input]
        for action in outcome.actions:
            if isinstance(action, AskKnowledge):
                work = self.librarian.look_up(funnel, action)
                break
            if isinstance(action, ClassifyRequest):
                work = self.qualifier.qualify(funnel, {k: v for k, _, v in action.answers})
                break
            if isinstance(action, CheckMembership):  # quick: no typing, no holding message
                member = await channel.is_member(action.chat)
                return Membership(action.step, member, action.recheck)
        else:
            return None
        async with channel.typing():
            task: asyncio.Future[Input] = asyncio.ensure_future(work)
            done, _ = await asyncio.wait({task}, timeout=HOLD_AFTER)
            if not done:
                with contextlib.suppress(SendRejected, SendInDoubt, RecipientGone):
                    await channel.send(OutMessage(funnel.scenario.texts.hold))
            return await task

    async def alert(self, lead_id: int, outcome: Outcome) -> None:
        """Tell managers about hot moments; a failing notifier never stops the funnel."""
        self.publish(lead_id, outcome)
        if self.notifier is None:
            return
        for action in outcome.actions:
            if isinstance(action, Alert):
                try:
                    await self.notifier.alert(lead_id, action.reason, action.step, action.note)
                except Exception:
                    log.exception("lead %s: the manager alert failed", lead_id)

    def publish(self, lead_id: int, outcome: Outcome) -> None:
        for sink in self.sinks:
            try:
                sink.publish(lead_id, outcome)
            except Exception:
                log.exception("lead %s: an event sink failed", lead_id)

    async def apply(
        self, key: LeadKey, event: Input, touch_id: int | None = None
    ) -> tuple[int, Outcome]:
        """Run the engine on the stored state and store everything it decided, in one go."""
        # A first contact raced by another process (LeadRace) runs once more on its row.
        for attempt in range(2):
            try:
                return await self._apply_once(key, event, touch_id)
            except LeadRace:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _apply_once(
        self, key: LeadKey, event: Input, touch_id: int | None
    ) -> tuple[int, Outcome]:
        """One transaction of a handful of statements, run as one unit of work
        (``storage.unit``): the lead and its answers in one SELECT, the engine, then the lead
        row (inserted with its final state on first contact), the answers upserted, timers
        cancelled only when one was pending (the engine says so), and all the events in one
        INSERT. The Telegram update that caused it is recorded as handled in the same
        transaction (``UpdateMark``)."""
        now = self.clock()
        funnel = self.scenario.funnel
        engine = self.scenario.engine
        mark = current_update.get()
        if mark is not None and mark.recorded:
            mark = None  # a follow-up of an update already recorded

        def work(conn: Connection) -> tuple[int, Outcome]:
            unit = Unit(conn)
            if mark is not None and not unit.record_update(
                mark.update_id, mark.instance, now, mark.stale
            ):
                raise RepeatedUpdate(str(mark.update_id))
            # Committed with the state it produces: from here a crash means "maybe sent".
            if touch_id is not None and not unit.mark_sending(touch_id, now):
                raise TouchLost(touch_id)
            known_id, state = unit.load(key.channel, key.user_id)
            if not state.seed:
                state.seed = zlib.crc32(f"{key.channel}:{key.user_id}".encode()) or 1
            outcome = engine.handle(state, event, now)
            lead_id = unit.store(
                known_id, (key.channel, key.user_id), outcome.state, now, funnel.version
            )
            events: list[EventRow] = []
            for action in outcome.actions:
                if isinstance(action, Log):
                    events.append((action.type, action.step, action.payload))
                elif isinstance(action, SaveAnswer):
                    unit.save_answer(lead_id, action.key, action.question, action.value, now)
                elif isinstance(action, CancelTimers):
                    if known_id is not None:  # a new lead has no timers to cancel
                        unit.cancel_pending(lead_id, now)
                elif isinstance(action, RecordOrder):
                    factor = 1 if action.currency in ZERO_DECIMAL else 100
                    unit.add_order(
                        lead_id,
                        action.step,
                        action.tier,
                        action.title,
                        Decimal(action.amount) / factor,
                        action.currency,
                        action.charge_id,
                        now,
                        action.kind,
                    )
                elif isinstance(action, RecordSubscription):
                    factor = 1 if action.currency in ZERO_DECIMAL else 100
                    unit.record_subscription(
                        lead_id,
                        action.step,
                        action.title,
                        Decimal(action.amount) / factor,
                        action.currency,
                        action.charge_id,
                        action.expires_at,
                        action.renewal,
                        now,
                    )
                elif isinstance(action, Schedule):
                    unit.schedule(lead_id, action.due, action.step, action.token, now, action.kind)
            self.hold_work(unit, lead_id, event, outcome, now)
            unit.insert_events(lead_id, events, now, funnel.version)
            if not unit.finish():  # PostgreSQL tells a repeat only here: nothing commits
                assert mark is not None
                raise RepeatedUpdate(str(mark.update_id))
            return unit.new_id or lead_id, outcome  # a new lead's id lands with the rest

        # A touch's claim must be checked before its run: only a touch waits for a lock.
        result = await self.db.transact(work, optimistic=touch_id is None)
        if mark is not None:
            mark.recorded = True
        return result

    def hold_work(
        self, unit: Unit, lead_id: int, event: Input, outcome: Outcome, now: datetime
    ) -> None:
        """Work outside the transaction (``follow_up``) is recorded with the state that asks
        for it, so a crash before its answer leaves a touch that resumes it (issue: leads
        stuck at ``classify`` after a kill -9); its answer closes the record."""
        if isinstance(event, Classified | Looked | Resume):
            unit.close_work(lead_id)
        for action in outcome.actions:
            if isinstance(action, ClassifyRequest | AskKnowledge):
                step = action.step or outcome.state.step or ""
                unit.hold_work(lead_id, step, now, self.worker, WORK_LEASE)
                return

    async def deliver(
        self, key: LeadKey, lead_id: int, outcome: Outcome, channel: Channel
    ) -> tuple[list[OutMessage], list[OutMessage], bool]:
        """Send the outcome's messages; returns what went out, what is in doubt, and whether
        the lead is gone. A message in doubt is never sent again (it may have arrived); the
        outcome's other messages still go."""
        sent: list[OutMessage] = []
        for action in outcome.actions:  # a join request first: a welcome may follow it
            if isinstance(action, DecideJoin) and not await channel.decide_join(
                action.chat, action.approve
            ):
                await self.log_event(
                    lead_id, (EventType.ERROR, None, {"reason": f"join request to {action.chat}"})
                )
        doubtful: list[OutMessage] = []
        for message in outcome.messages:
            try:
                await channel.send(message)
            except RecipientGone as exc:
                log.info("lead %s is unreachable: %s", lead_id, exc)
                await self.apply(key, Blocked(str(exc)))
                return sent, doubtful, True
            except SendInDoubt as exc:
                log.warning("lead %s: step %s may not have arrived: %s", lead_id, message.step, exc)
                doubtful.append(message)
                async with self.db.session() as session, session.begin():
                    events = self.doubt_events(message.step, {"reason": str(exc)[:500]})
                    LeadRepo(session).add_events(lead_id, events, self.clock())
            except SendRejected as exc:
                log.warning("lead %s: step %s was rejected: %s", lead_id, message.step, exc)
                await self.log_event(
                    lead_id, (EventType.ERROR, message.step, {"reason": str(exc)[:500]})
                )
            else:
                sent.append(message)
        return sent, doubtful, False

    def doubt_events(self, step: str | None, payload: dict[str, object]) -> list[EventRow]:
        """The log of a send in doubt: ``delivery_unknown``, and ``offer_in_doubt`` for an offer."""
        events: list[EventRow] = [(EventType.DELIVERY_UNKNOWN, step, dict(payload))]
        placed = self.scenario.funnel.get(step) if step else None
        if placed is not None and isinstance(placed.step, OfferStep):
            events.append((EventType.OFFER_IN_DOUBT, step, dict(payload)))
        return events

    async def log_event(self, lead_id: int, event: EventRow) -> None:
        """One event in the lead log, outside any engine run (its own transaction)."""
        async with self.db.session() as session, session.begin():
            LeadRepo(session).add_events(lead_id, [event], self.clock())

    def check_invoice(self, payload: str, currency: str, amount: int) -> str | None:
        """Before Telegram charges: None if the invoice is still on sale as issued, else why."""
        placed = self.scenario.funnel.get(offer_of_payload(payload))
        step = placed.step if placed is not None else None
        if not isinstance(step, OfferStep) or not step.sells_in_telegram:
            return "this offer is no longer available"
        if step.currency != currency or step.minor_units != amount:
            return "the price has changed; please open the offer again"
        return None
