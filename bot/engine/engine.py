"""The funnel engine: lead state + input -> new state + actions. Pure and synchronous.

The engine never talks to Telegram, the database or the model; it returns what should
happen and the service around it makes it so. That keeps every rule of the funnel in one
place, testable with plain values and a fixed clock.
"""

from __future__ import annotations

import copy
import hashlib
import zlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.engine.offscript import HUMAN_BUTTON, KNOWLEDGE_PREFIX, OffScript, looks_like_question
from bot.engine.quiet import hold
from bot.engine.text import clean_input, fill, normalize_email, normalize_phone
from bot.engine.types import (
    MAX_LIVE_MESSAGES,
    Action,
    Alert,
    Blocked,
    Broadcast,
    CancelTimers,
    Classified,
    ClassifyRequest,
    Contact,
    Input,
    Invoice,
    LeadState,
    Log,
    Looked,
    OutButton,
    Outcome,
    OutMessage,
    Paid,
    Press,
    Priority,
    RecordOrder,
    Release,
    SaveAnswer,
    Schedule,
    Send,
    Start,
    Stop,
    Text,
    TimerFired,
)
from bot.scenario.funnel import INTERVIEW, Funnel, Placed
from bot.scenario.model import (
    ZERO_DECIMAL,
    BranchStep,
    ClassifyStep,
    ConsentStep,
    ContactStep,
    EndStep,
    GotoStep,
    HandoffStep,
    LeadMagnetStep,
    MessageStep,
    OfferStep,
    Option,
    QuestionStep,
    Stage,
    Variant,
    WaitStep,
)

MAX_STEPS_PER_INPUT = 100
BROADCAST_PREFIX = "@b"
MAX_DRAFT = 4000
STAGE_ORDER = [s.value for s in Stage]


def invoice_payload(step_id: str) -> str:
    return f"offer:{step_id}"


def offer_of_payload(payload: str) -> str | None:
    return payload.removeprefix("offer:") if payload.startswith("offer:") else None


def text_version(text: str) -> str:
    """A short fingerprint of a text, so a stored consent says which wording was agreed to."""
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class Engine:
    """Runs one scenario. Create a new one when the scenario changes."""

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.texts = funnel.scenario.texts

    def handle(self, state: LeadState, event: Input, now: datetime) -> Outcome:
        """React to one input. ``state`` is not modified; the outcome holds a new one."""
        run = _Run(self, copy.deepcopy(state), now)
        run.dispatch(event)
        return Outcome(state=run.state, actions=run.actions, toast=run.toast)


class _Run:
    """One input's worth of work: collects actions while moving the state."""

    def __init__(self, engine: Engine, state: LeadState, now: datetime) -> None:
        self.engine = engine
        self.funnel = engine.funnel
        self.texts = engine.texts
        self.state = state
        self.now = now
        self.actions: list[Action] = []
        self.toast: str | None = None
        self.priority: Priority = "reply"
        self.off = OffScript(self)  # issue 13: off-script messages (bot/engine/offscript.py)

    # --- helpers ---------------------------------------------------------------------

    def log(self, type_: str, step: str | None = None, **payload: object) -> None:
        self.actions.append(Log(type_, step, dict(payload)))

    def say(self, text: str, step: str | None = None, **kw: Any) -> None:
        self.actions.append(
            Send(OutMessage(text=self.fill(text), step=step, priority=self.priority, **kw))
        )

    def fill(self, text: str) -> str:
        segment = self.funnel.segment(self.state.segment)
        return fill(text, self.state, segment.title if segment else "")

    def cancel_timers(self, reason: str) -> None:
        if self.state.timer:
            self.state.timer = 0
            self.actions.append(CancelTimers(reason))

    def set_stage(self, stage: str, step: str | None = None) -> None:
        if stage == self.state.stage:
            return
        old = self.state.stage
        self.state.stage = stage
        self.log("stage_changed", step, old=old, new=stage)

    def raise_stage(self, stage: str, step: str | None = None) -> None:
        """Move up the ladder only (a click never makes a hot lead warm)."""
        if STAGE_ORDER.index(stage) > STAGE_ORDER.index(self.state.stage):
            self.set_stage(stage, step)

    def buttons_for(
        self, step_id: str, labels: list[tuple[str, str | None]]
    ) -> tuple[tuple[OutButton, ...], ...]:
        """One button per row; callback buttons carry ``b:<seq>:<index>`` (always < 64 bytes)."""
        if not labels:
            return ()
        seq: int | None = None
        rows = []
        for index, (text, url) in enumerate(labels):
            if url:
                rows.append((OutButton(text=self.fill(text), url=url),))
                continue
            if seq is None:
                self.state.seq += 1
                seq = self.state.seq
                self.state.live[str(seq)] = step_id
                while len(self.state.live) > MAX_LIVE_MESSAGES:
                    oldest = next(iter(self.state.live))
                    self.state.live.pop(oldest)
                    self.state.broadcast_buttons.pop(oldest, None)
            rows.append((OutButton(text=self.fill(text), data=f"b:{seq}:{index}"),))
        return tuple(rows)

    # --- inputs ----------------------------------------------------------------------

    def dispatch(self, event: Input) -> None:
        moved = self.relocate()
        if moved and isinstance(event, TimerFired | Text | Press | Start | Contact):
            # The step this input was meant for is gone; the lead continues at the new place.
            if isinstance(event, Text):
                self.log("message_received", self.state.step, text=clean_input(event.text)[0])
            elif isinstance(event, Start):
                self.say(self.texts.restart)
            elif isinstance(event, Contact):
                self.on_contact(event)
            if self.state.status == "active" and self.state.step:
                self.priority = "touch" if isinstance(event, TimerFired) else "reply"
                self.run(self.state.step)
            return
        handler = {
            Start: self.on_start,
            Text: self.on_text,
            Press: self.on_press,
            Contact: self.on_contact,
            TimerFired: self.on_timer,
            Classified: self.on_classified,
            Stop: self.on_stop,
            Blocked: self.on_blocked,
            Release: self.on_release,
            Paid: self.on_paid,
            Broadcast: self.on_broadcast,
            Looked: self.off.looked,
        }[type(event)]
        handler(event)  # type: ignore[operator]

    def relocate(self) -> bool:
        """Move a lead whose step was removed by a scenario edit; True when it moved."""
        st = self.state
        if st.step is None or self.funnel.get(st.step) is not None:
            return False
        scenario = self.funnel.scenario
        target = scenario.moved.get(st.step)
        if target is None and st.segment in scenario.segments:
            chain = self.funnel.chains.get(self.funnel.chain_of(st.segment)) or []
            target = chain[0] if chain else None
        target = target or self.funnel.start
        self.log("step_moved", target, old=st.step, new=target, version=self.funnel.version)
        self.cancel_timers("step_moved")
        st.step, st.waiting, st.draft = target, None, ""
        for seq, owner in list(st.live.items()):
            if self.funnel.get(owner) is None:
                del st.live[seq]
        return True

    def variant(self, placed: Placed, variants: list[Variant]) -> Variant | None:
        """The lead's variant of a step: picked once by weight, stable from then on."""
        if not variants:
            return None
        chosen = self.state.variants.get(placed.id)
        found = next((v for v in variants if v.id == chosen), None)
        if found is not None:
            return found
        total = sum(v.weight for v in variants)
        point = zlib.crc32(f"{self.state.seed}:{placed.id}".encode()) % total
        for candidate in variants:
            if point < candidate.weight:
                found = candidate
                break
            point -= candidate.weight
        assert found is not None
        self.state.variants[placed.id] = found.id
        return found

    def on_start(self, event: Start) -> None:
        st = self.state
        for name in ("first_name", "last_name", "username", "language"):
            value = getattr(event, name)
            if value:
                setattr(st, name, value)
        if not st.started:
            st.started = True
            st.source = event.source
            st.status = "active"
            self.log("started", None, source=event.source)
            self.run(self.funnel.start)
            return
        self.log("restarted", st.step, source=event.source, status=st.status)
        if st.status in {"unsubscribed", "blocked"}:
            st.status = "active"
            self.log("resubscribed", st.step)
            self.say(self.texts.restart)
            self.resume()
            return
        if st.status == "completed":
            self.say(self.texts.finished)
            return
        if st.status == "handed_off":
            self.say(self.texts.handed_off)
            return
        self.say(self.texts.restart)
        if st.waiting in {"answer", "contact", "magnet_contact", "consent"} and st.step:
            self.run(st.step)

    def resume(self) -> None:
        """Pick the chain up where it stopped (after /stop, a block, or a manager)."""
        st = self.state
        if st.step is None:
            self.run(self.funnel.start)
            return
        placed = self.funnel.get(st.step)
        if placed is None:
            self.run(self.funnel.start)
        elif st.waiting in {"timer", "manager", None} and placed.step.kind in {"wait", "handoff"}:
            self.advance(placed)
        else:
            self.run(st.step)

    def on_text(self, event: Text) -> None:
        st = self.state
        text, cut = clean_input(event.text)
        if not text:
            return
        if cut:
            self.log("input_truncated", st.step, length=len(event.text))
        if st.status == "blocked":
            st.status = "active"
            self.log("unblocked", st.step)
        if st.status == "unsubscribed":
            self.log("message_received", st.step, text=text, status=st.status)
            self.say(self.texts.stop)
            return
        if cut:
            self.say(self.texts.too_long)  # the prospect knows the end of it was not read
        if st.status == "handed_off":
            self.off.forward(text)
            return
        # Issue 13 hook: whatever is not the pending step's answer goes to bot/engine/offscript.
        placed = self.funnel.get(st.step)
        if placed is not None and st.waiting == "answer" and isinstance(placed.step, QuestionStep):
            if self.off.is_answer(placed, text):
                self.answer_question(placed, text, typed=True)
            else:
                self.off.text(text)
            return
        if placed is not None and st.waiting in {"contact", "magnet_contact"}:
            if self.off.is_contact_aside(text):
                self.off.text(text)
            else:
                self.typed_contact(placed, text)
            return
        if (
            placed is not None
            and st.waiting == "timer"
            and isinstance(placed.step, WaitStep)
            and placed.step.on_reply
        ):
            self.log("replied", placed.id, text=text)
            self.cancel_timers("replied")
            self.run(placed.step.on_reply)
            return
        if st.waiting == "classify" and not looks_like_question(text):
            self.log("message_received", st.step, text=text)
            return
        self.off.text(text)

    def on_press(self, event: Press) -> None:
        st = self.state
        parts = event.data.split(":")
        if len(parts) != 3 or parts[0] != "b" or not parts[1].isdigit() or not parts[2].isdigit():
            self.toast = self.texts.not_current
            self.log("stale_button", st.step, data=event.data[:64])
            return
        seq, index = parts[1], int(parts[2])
        step_id = st.live.get(seq)
        if step_id is not None and step_id.startswith(BROADCAST_PREFIX):
            self.broadcast_press(seq, step_id, index)
            return
        if step_id is not None and step_id.startswith((HUMAN_BUTTON, KNOWLEDGE_PREFIX)):
            if st.status in {"unsubscribed", "handed_off"}:
                self.toast = self.texts.not_current
                return
            del st.live[seq]
            if not self.off.knowledge_press(step_id, index):
                self.toast = self.texts.not_current
            return
        placed = self.funnel.get(step_id)
        if placed is None or st.status in {"unsubscribed", "handed_off"}:
            self.toast = self.texts.not_current
            self.log("stale_button", st.step, data=event.data)
            return
        if st.status == "blocked":
            st.status = "active"
            self.log("unblocked", st.step)
        step = placed.step
        if isinstance(step, QuestionStep):
            if st.step != placed.id or st.waiting != "answer" or index >= len(step.options):
                self.toast = self.texts.not_current
                return
            del st.live[seq]
            self.answer_question(placed, step.options[index], typed=False)
            return
        del st.live[seq]
        if isinstance(step, ConsentStep):
            if st.step != placed.id or st.waiting != "consent" or index > 1:
                self.toast = self.texts.not_current
                return
            self.consent_answer(placed, step, agreed=index == 0)
            return
        if isinstance(step, OfferStep) and index == 0:
            self.offer_clicked(placed, step)
            return
        buttons = step.buttons if isinstance(step, MessageStep | OfferStep) else []
        offset = 1 if isinstance(step, OfferStep) else 0
        if not 0 <= index - offset < len(buttons):
            self.toast = self.texts.not_current
            return
        button = buttons[index - offset]
        self.log(
            "button_pressed",
            placed.id,
            text=button.text,
            goto=button.goto,
            **self.variant_of(placed),
        )
        if button.goto:
            self.cancel_timers("button")
            sent = len(self.actions)
            self.run(button.goto)
            self.acknowledge(sent)

    def acknowledge(self, sent: int) -> None:
        """A press that only starts a wait still hears something ("Да, напомните" → "Готово")."""
        quiet = not any(isinstance(a, Send) for a in self.actions[sent:])
        if quiet and self.state.waiting == "timer":
            self.say(self.texts.button_noted)

    def on_contact(self, event: Contact) -> None:
        st = self.state
        if not self.may_ask_contact():
            self.log("contact_refused", st.step, reason="no consent")
            self.say(self.texts.unknown, remove_keyboard=True)
            return
        phone = normalize_phone(event.phone) or event.phone.strip()[:32]
        st.phone = phone
        self.log("contact_shared", st.step, kind="phone")
        self.raise_stage("warm", st.step)
        placed = self.funnel.get(st.step)
        if placed is not None and st.waiting in {"contact", "magnet_contact"}:
            self.after_contact(placed)
            return
        self.say(self.texts.contact_thanks, st.step, remove_keyboard=True)

    def on_timer(self, event: TimerFired) -> None:
        st = self.state
        if event.token != st.timer or st.status != "active":
            self.log("timer_ignored", st.step, token=event.token)
            return
        st.timer = 0
        placed = self.funnel.get(st.step)
        self.priority = "touch"
        if placed is None:
            self.finish(None)
            return
        if isinstance(placed.step, QuestionStep) and st.draft and st.waiting == "answer":
            self.priority = "reply"
            self.commit_answer(placed, st.draft, "text", None)
            return
        if isinstance(placed.step, QuestionStep) and placed.step.on_timeout:
            self.log("no_reply", placed.id, waited=str(placed.step.timeout))
            self.run(placed.step.on_timeout)
            return
        self.advance(placed)

    def on_classified(self, event: Classified) -> None:
        st = self.state
        if st.waiting != "classify":
            self.log("classification_ignored", st.step, segment=event.segment)
            return
        segment = self.funnel.segment(event.segment)
        seg_id = event.segment if segment else self.funnel.fallback_segment
        segment = self.funnel.scenario.segments[seg_id]
        st.segment = seg_id
        st.readiness = event.readiness
        st.confidence = event.confidence
        st.summary = event.summary or st.summary
        for flag in event.flags:
            if flag not in st.flags:
                st.flags.append(flag)
        st.waiting = None
        self.log(
            "classified",
            st.step,
            segment=seg_id,
            confidence=event.confidence,
            readiness=event.readiness,
            reason=event.reason,
            flags=list(event.flags),
            **event.details,
        )
        self.set_stage(segment.stage.value, st.step)
        if st.status != "active":
            return  # classified all the same, but nobody to write to now
        if segment.hot:
            self.actions.append(Alert("hot_segment", st.step))
        chain = self.funnel.chains.get(self.funnel.chain_of(seg_id)) or []
        if chain:
            self.run(chain[0])
        else:
            self.finish(st.step)

    def on_stop(self, _: Stop) -> None:
        st = self.state
        if st.status == "unsubscribed":
            self.say(self.texts.stop, remove_keyboard=True)
            return
        st.status = "unsubscribed"
        self.cancel_timers("unsubscribed")
        self.log("unsubscribed", st.step)
        self.say(self.texts.stop, remove_keyboard=True)

    def on_blocked(self, event: Blocked) -> None:
        st = self.state
        if st.status == "blocked":
            return
        st.status = "blocked"
        self.cancel_timers("blocked")
        self.log("blocked", st.step, reason=event.reason)

    def on_paid(self, event: Paid) -> None:
        st = self.state
        if event.charge_id in st.orders:
            self.log("payment_duplicate", st.step, charge_id=event.charge_id)
            return
        st.orders = [*st.orders[-19:], event.charge_id]
        offer_id = offer_of_payload(event.payload)
        placed = self.funnel.get(offer_id)
        step = placed.step if placed is not None else None
        tier = step.tier if isinstance(step, OfferStep) else "unknown"
        title = step.title if isinstance(step, OfferStep) else (offer_id or "order")
        factor = 1 if event.currency in ZERO_DECIMAL else 100
        self.log(
            "order_paid",
            offer_id,
            amount=str(Decimal(event.amount) / factor),
            currency=event.currency,
            title=title,
            tier=tier,
            offer_step=offer_id,
            charge_id=event.charge_id,
        )
        self.actions.append(
            RecordOrder(offer_id or "", tier, title, event.amount, event.currency, event.charge_id)
        )
        self.set_stage("customer", offer_id)
        self.cancel_timers("paid")
        if st.status in {"unsubscribed", "blocked"}:
            return
        st.status = "active"
        self.say(self.texts.paid.replace("{offer}", title), offer_id, remove_keyboard=True)
        after = self.funnel.scenario.after_purchase
        chain = self.funnel.chains.get(after) if after else None
        if chain:
            self.log("after_purchase", chain[0], chain=after)
            self.run(chain[0])
        else:
            self.finish(offer_id)

    def on_broadcast(self, event: Broadcast) -> None:
        st = self.state
        if st.status not in {"active", "completed"}:
            self.log("broadcast_skipped", st.step, broadcast=event.broadcast_id, status=st.status)
            return
        self.priority = "touch"
        self.log("broadcast_sent", st.step, broadcast=event.broadcast_id, chain=event.chain)
        if event.chain is not None:
            chain = self.funnel.chains.get(event.chain) or []
            if not chain:
                self.log("error", st.step, reason=f"no chain {event.chain}")
                return
            self.cancel_timers("broadcast")
            st.status = "active"
            self.run(chain[0])
            return
        message = event.message
        assert message is not None
        step_id = f"{BROADCAST_PREFIX}{event.broadcast_id}"
        buttons = self.buttons_for(step_id, [(b.text, b.url) for b in message.buttons])
        if any(b.data for row in buttons for b in row):
            st.broadcast_buttons[str(st.seq)] = [b.goto for b in message.buttons]
        self.say(
            message.message,
            step_id,
            buttons=buttons,
            image=message.image,
            document=message.document,
        )

    def broadcast_press(self, seq: str, step_id: str, index: int) -> None:
        st = self.state
        targets = st.broadcast_buttons.get(seq) or []
        broadcast = int(step_id.removeprefix(BROADCAST_PREFIX))
        if st.status in {"unsubscribed", "handed_off"} or not 0 <= index < len(targets):
            self.toast = self.texts.not_current
            return
        del st.live[seq]
        st.broadcast_buttons.pop(seq, None)
        goto = targets[index]
        self.log("button_pressed", st.step, broadcast=broadcast, goto=goto)
        if goto and self.funnel.get(goto) is not None:
            self.cancel_timers("button")
            st.status = "active"
            sent = len(self.actions)
            self.run(goto)
            self.acknowledge(sent)

    def on_release(self, event: Release) -> None:
        st = self.state
        if st.status != "handed_off":
            return
        st.status = "active"
        st.told_handed_off = False
        self.log("released", st.step, by=event.by)
        self.priority = "touch"
        self.resume()

    # --- the interview ---------------------------------------------------------------

    def answer_question(self, placed: Placed, answer: Option | str, typed: bool) -> None:
        step = placed.step
        assert isinstance(step, QuestionStep)
        option = answer if isinstance(answer, Option) else None
        if isinstance(answer, str):
            option = next((o for o in step.options if o.text.casefold() == answer.casefold()), None)
            if option is None and not step.accepts_text:
                self.log("message_received", placed.id, text=answer)
                self.say(self.texts.unknown)
                return
        if option is not None:
            self.commit_answer(placed, option.stored, "text" if typed else "button", option.goto)
            return
        assert isinstance(answer, str)
        debounce = self.funnel.scenario.classifier.debounce
        if not debounce:
            self.commit_answer(placed, answer, "text", None)
            return
        # A burst of short messages is one answer: collect until the prospect pauses.
        st = self.state
        st.draft = f"{st.draft}\n{answer}"[-MAX_DRAFT:] if st.draft else answer
        self.cancel_timers("typing")
        st.timer += 1
        self.actions.append(Schedule(st.timer, self.now + debounce, placed.id, kind="reply"))

    def commit_answer(self, placed: Placed, value: str, via: str, goto: str | None) -> None:
        step = placed.step
        assert isinstance(step, QuestionStep)
        key = step.key or placed.id
        self.state.answers[key] = value
        self.state.waiting = None
        self.state.draft = ""
        self.cancel_timers("answered")
        for seq, owner in list(self.state.live.items()):
            if owner == placed.id:
                del self.state.live[seq]
        self.actions.append(SaveAnswer(key, step.question, value))
        self.log("answer_given", placed.id, key=key, value=value, via=via)
        self.raise_stage("cold", placed.id)
        if goto:
            self.run(goto)
        else:
            self.advance(placed)

    def typed_contact(self, placed: Placed, text: str) -> None:
        st = self.state
        ask = placed.step.ask if isinstance(placed.step, ContactStep) else "phone_or_email"
        if text.casefold() == self.texts.skip_button.casefold():
            self.skip_contact(placed)
            return
        if ask in {"email", "phone_or_email"} and (email := normalize_email(text)):
            st.email = email
            self.log("contact_shared", placed.id, kind="email")
            self.raise_stage("warm", placed.id)
            self.after_contact(placed)
            return
        if ask in {"phone", "phone_or_email"} and (phone := normalize_phone(text)):
            st.phone = phone
            self.log("contact_shared", placed.id, kind="phone", typed=True)
            self.raise_stage("warm", placed.id)
            self.after_contact(placed)
            return
        self.log("contact_invalid", placed.id)
        if ask == "phone":
            self.say(self.texts.unknown)
        else:
            self.say(self.texts.email_invalid)

    def skip_contact(self, placed: Placed) -> None:
        self.state.waiting = None
        self.log("contact_declined", placed.id)
        step = placed.step
        if isinstance(step, LeadMagnetStep):
            self.log("lead_magnet_declined", placed.id, title=step.title)
            self.say(self.texts.contact_skipped, placed.id, remove_keyboard=True)
            self.advance(placed)
            return
        assert isinstance(step, ContactStep)
        self.say(self.texts.contact_skipped, placed.id, remove_keyboard=True)
        if step.on_skip:
            self.run(step.on_skip)
        else:
            self.advance(placed)

    def after_contact(self, placed: Placed) -> None:
        self.state.waiting = None
        step = placed.step
        if isinstance(step, LeadMagnetStep):
            self.say(self.texts.contact_thanks, placed.id, remove_keyboard=True)
            self.deliver_magnet(placed, step)
            self.advance(placed)
            return
        thanks = step.thanks if isinstance(step, ContactStep) and step.thanks else None
        self.say(thanks or self.texts.contact_thanks, placed.id, remove_keyboard=True)
        self.advance(placed)

    def offer_clicked(self, placed: Placed, step: OfferStep) -> None:
        self.log(
            "offer_clicked",
            placed.id,
            tier=step.tier,
            title=step.title,
            price=str(step.price),
            currency=step.currency,
            **self.variant_of(placed),
        )
        self.raise_stage("hot", placed.id)
        self.actions.append(Alert("offer_clicked", placed.id))
        if step.invoice:
            invoice = Invoice(
                title=step.title[:32],
                description=(step.description or step.title)[:255],
                payload=invoice_payload(placed.id),
                currency=step.currency,
                amount=step.minor_units,
            )
            self.say(step.title, placed.id, invoice=invoice)
            self.log("invoice_sent", placed.id, amount=str(step.price), currency=step.currency)
        else:
            assert step.link is not None
            link_text = self.texts.offer_link.replace("{offer}", step.title)
            self.say(
                link_text,
                placed.id,
                buttons=((OutButton(text=self.texts.offer_link_button, url=step.link),),),
            )
        if step.on_click:
            self.cancel_timers("offer_clicked")
            self.run(step.on_click)

    # --- running steps ---------------------------------------------------------------

    def advance(self, placed: Placed) -> None:
        """Go on after ``placed``: the next step of its chain, or the chain's natural end."""
        nxt = self.funnel.following(placed.id)
        if nxt is not None:
            self.run(nxt)
        elif placed.chain == INTERVIEW:
            self.classify(None)
        else:
            self.finish(placed.id)

    def run(self, step_id: str) -> None:
        """Run steps from ``step_id`` until one has to wait for something."""
        current: str | None = step_id
        for _ in range(MAX_STEPS_PER_INPUT):
            if current is None:
                return
            placed = self.funnel.get(current)
            if placed is None:
                self.log("error", current, reason="unknown step")
                self.finish(None)
                return
            self.state.step = placed.id
            self.state.waiting = None
            nxt, done = self.execute(placed)
            if done:
                return
            if nxt is None:
                if placed.chain == INTERVIEW:
                    self.classify(None)
                else:
                    self.finish(placed.id)
                return
            current = nxt
        self.log("error", current, reason="too many steps without a pause")

    def execute(self, placed: Placed) -> tuple[str | None, bool]:
        """Run one step. Returns (next step id, whether the chain now waits)."""
        step = placed.step
        following = self.funnel.following(placed.id)
        st = self.state
        if isinstance(step, MessageStep):
            variant = self.variant(placed, step.variants)
            buttons = self.buttons_for(placed.id, [(b.text, b.url) for b in step.buttons])
            self.say(
                variant.text if variant else step.message,
                placed.id,
                buttons=buttons,
                image=(variant.image if variant and variant.image else step.image),
                document=step.document,
            )
            self.log("step_sent", placed.id, kind="message", **self.variant_of(placed))
            return following, False
        if isinstance(step, ConsentStep):
            if st.consent == "given":
                return following, False
            labels: list[tuple[str, str | None]] = [(step.agree, None), (step.decline, None)]
            labels.append((step.policy_text or self.texts.policy_button, step.policy_url))
            self.say(step.consent, placed.id, buttons=self.buttons_for(placed.id, labels))
            self.log("consent_requested", placed.id, version=text_version(step.consent))
            st.waiting = "consent"
            return None, True
        if isinstance(step, QuestionStep):
            buttons = self.buttons_for(placed.id, [(o.text, None) for o in step.options])
            self.say(step.question, placed.id, buttons=buttons)
            self.log("question_asked", placed.id, key=step.key or placed.id)
            st.waiting = "answer"
            if step.timeout is not None:
                self.schedule(placed, step.timeout.due(self.now, self.funnel.timezone))
            return None, True
        if isinstance(step, ContactStep):
            if self.contact_known(step.ask):
                self.log("contact_known", placed.id)
                return following, False
            if not self.may_ask_contact():
                self.log("contact_skipped", placed.id, reason="no consent")
                return step.on_skip or following, False
            self.ask_contact(placed, step.contact, step.ask, step.optional, step.button)
            return None, True
        if isinstance(step, ClassifyStep):
            self.classify(placed)
            return None, True
        if isinstance(step, LeadMagnetStep):
            if step.requires_contact and not st.has_contact and not self.may_ask_contact():
                self.log("lead_magnet_declined", placed.id, title=step.title, reason="no consent")
                return following, False
            if step.requires_contact and not st.has_contact:
                prompt = step.contact_prompt or step.lead_magnet
                self.ask_contact(placed, prompt, "phone_or_email", True, None)
                st.waiting = "magnet_contact"
                return None, True
            self.deliver_magnet(placed, step)
            return following, False
        if isinstance(step, OfferStep):
            variant = self.variant(placed, step.variants)
            offer_labels: list[tuple[str, str | None]] = [
                (step.button or self.texts.offer_button, None)
            ]
            offer_labels += [(b.text, b.url) for b in step.buttons]
            self.say(
                variant.text if variant else step.offer,
                placed.id,
                buttons=self.buttons_for(placed.id, offer_labels),
                image=(variant.image if variant and variant.image else step.image),
            )
            self.log(
                "offer_shown",
                placed.id,
                tier=step.tier,
                title=step.title,
                price=str(step.price),
                currency=step.currency,
                **self.variant_of(placed),
            )
            return following, False
        if isinstance(step, WaitStep):
            self.schedule(placed, step.wait.due(self.now, self.funnel.timezone))
            return None, True
        if isinstance(step, BranchStep):
            value = self.branch_value(step.branch)
            target = next((c.goto for c in step.cases if c.matches(value)), None)
            target = target or step.default or following
            self.log("branched", placed.id, on=step.branch, value=value, goto=target)
            return target, False
        if isinstance(step, HandoffStep):
            self.say(step.handoff, placed.id, remove_keyboard=True)
            st.status = "handed_off"
            st.waiting = "manager"
            st.told_handed_off = True  # the step's own text said it
            self.cancel_timers("handed_off")
            self.log("handed_off", placed.id)
            self.raise_stage("hot", placed.id)
            self.actions.append(Alert("handoff", placed.id))
            return None, True
        if isinstance(step, EndStep):
            if isinstance(step.end, str):
                self.say(step.end, placed.id, remove_keyboard=True)
            self.finish(placed.id)
            return None, True
        assert isinstance(step, GotoStep)
        return step.goto, False

    def schedule(self, placed: Placed, due: datetime) -> None:
        """A timer for a touch; it falls inside the sending window (quiet hours)."""
        window = self.funnel.scenario.sending_window
        if window is not None:
            held = hold(due, window.start, window.end, self.funnel.timezone)
            if held != due:
                self.log("touch_held", placed.id, due=due.isoformat(), until=held.isoformat())
                due = held
        self.state.timer += 1
        self.state.waiting = "timer" if placed.step.kind == "wait" else self.state.waiting
        self.actions.append(Schedule(self.state.timer, due, placed.id))
        self.log("touch_scheduled", placed.id, due=due.isoformat())

    def variant_of(self, placed: Placed) -> dict[str, str]:
        chosen = self.state.variants.get(placed.id)
        return {"variant": chosen} if chosen else {}

    def may_ask_contact(self) -> bool:
        return not self.funnel.scenario.require_consent or self.state.consent == "given"

    def consent_answer(self, placed: Placed, step: ConsentStep, agreed: bool) -> None:
        st = self.state
        version = text_version(step.consent)
        st.consent = "given" if agreed else "declined"
        st.consent_version, st.consent_at = version, self.now
        st.waiting = None
        self.log("consent_given" if agreed else "consent_declined", placed.id, version=version)
        if not agreed and step.on_decline:
            self.run(step.on_decline)
        else:
            self.advance(placed)

    def contact_known(self, ask: str) -> bool:
        st = self.state
        return bool({"phone": st.phone, "email": st.email}.get(ask, st.has_contact))

    def ask_contact(
        self, placed: Placed, text: str, ask: str, optional: bool, button: str | None
    ) -> None:
        wants_phone = ask in {"phone", "phone_or_email"}
        self.say(
            text,
            placed.id,
            contact_button=(button or self.texts.phone_button) if wants_phone else None,
            reply_options=(self.texts.skip_button,) if optional else (),
        )
        self.log("contact_requested", placed.id, ask=ask)
        self.state.waiting = "contact"

    def deliver_magnet(self, placed: Placed, step: LeadMagnetStep) -> None:
        buttons: tuple[tuple[OutButton, ...], ...] = ()
        if step.link:
            label = step.link_text or self.texts.magnet_link_button
            buttons = ((OutButton(text=label, url=step.link),),)
        self.say(step.lead_magnet, placed.id, document=step.document, buttons=buttons)
        self.log("lead_magnet_delivered", placed.id, title=step.title)

    def branch_value(self, name: str) -> str | None:
        st = self.state
        if name == "segment":
            return st.segment
        if name == "source":
            return st.source
        if name == "has_contact":
            return "true" if st.has_contact else "false"
        return st.answers.get(name)

    def classify(self, placed: Placed | None) -> None:
        st = self.state
        if (
            placed is not None
            and isinstance(placed.step, ClassifyStep)
            and isinstance(placed.step.classify, str)
        ):
            self.say(placed.step.classify, placed.id)
        st.waiting = "classify"
        questions = self.funnel.answer_keys()
        answers = tuple((k, questions.get(k, k), v) for k, v in st.answers.items())
        self.actions.append(ClassifyRequest(answers, st.step))

    def finish(self, step_id: str | None) -> None:
        st = self.state
        st.status = "completed"
        st.waiting = None
        self.cancel_timers("finished")
        self.log("finished", step_id)


__all__ = ["Engine"]
