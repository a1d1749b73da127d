"""Dispatch: one handler per input type, and what happens when a scenario edit moved the lead.

``INPUT_HANDLERS`` maps each engine input (``bot.engine.types.Input``) to its handler.
Typed text lands in ``on_text``; text the funnel did not expect ends in ``off_script``,
the one place to hook other handling of free text (knowledge base, a model's reply).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.engine.business import entry, owner_wrote
from bot.engine.interview import (
    answer_question,
    commit_answer,
    consent_answer,
    shared_phone,
    typed_contact,
)
from bot.engine.joins import requested, settle
from bot.engine.mailings import broadcast, broadcast_press, is_broadcast_step
from bot.engine.offers import membership, offer_clicked, paid, recheck
from bot.engine.offscript import HUMAN_BUTTON, KNOWLEDGE_PREFIX, OffScript, looks_like_question
from bot.engine.run import Run
from bot.engine.text import clean_input
from bot.engine.types import (
    Alert,
    AskKnowledge,
    Blocked,
    Broadcast,
    Classified,
    Contact,
    CustomerWrote,
    Input,
    JoinRequest,
    Looked,
    Membership,
    OwnerWrote,
    Paid,
    Press,
    Release,
    Resume,
    Start,
    Stop,
    Text,
    TimerFired,
)
from bot.scenario.model import (
    ConsentStep,
    LeadMagnetStep,
    MessageStep,
    OfferStep,
    QuestionStep,
    WaitStep,
)
from bot.vocabulary import AlertReason, EventType, LeadFlag, LeadStatus, Waiting

#: Statuses in which a prospect's own message or /start makes the lead active again.
GONE = frozenset({LeadStatus.UNSUBSCRIBED, LeadStatus.BLOCKED})


def dispatch(run: Run, event: Input) -> None:
    """React to one input (after moving a lead whose step a scenario edit removed)."""
    if relocate(run) and isinstance(event, TimerFired | Text | Press | Start | Contact):
        # The step this input was meant for is gone; the lead continues at the new place.
        if isinstance(event, Text):
            run.log(EventType.MESSAGE_RECEIVED, run.state.step, text=clean_input(event.text)[0])
        elif isinstance(event, Start):
            run.say(run.texts.restart)
        elif isinstance(event, Contact):
            on_contact(run, event)
        if run.state.status == LeadStatus.ACTIVE and run.state.step:
            run.priority = "touch" if isinstance(event, TimerFired) else "reply"
            run.run(run.state.step)
        return
    INPUT_HANDLERS[type(event)](run, event)


def relocate(run: Run) -> bool:
    """Move a lead whose step was removed by a scenario edit; True when it moved."""
    st, funnel = run.state, run.funnel
    if st.step is None or funnel.get(st.step) is not None:
        return False
    target = funnel.scenario.moved.get(st.step)
    if target is None and st.segment in funnel.scenario.segments:
        chain = funnel.chains.get(funnel.chain_of(st.segment)) or []
        target = chain[0] if chain else None
    target = target or funnel.start
    run.log(EventType.STEP_MOVED, target, old=st.step, new=target, version=funnel.version)
    run.cancel_timers(EventType.STEP_MOVED)
    st.step, st.waiting, st.draft = target, None, ""
    for seq, owner in list(st.live.items()):
        if funnel.get(owner) is None:
            del st.live[seq]
    return True


def on_join_request(run: Run, event: JoinRequest) -> None:
    """A request to join the operator's channel: the funnel starts (or resumes) as on /start."""
    requested(run, event.chat, event.source)
    start = Start(event.source, event.first_name, event.last_name, event.username, event.language)
    on_start(run, start)


def on_customer_wrote(run: Run, event: CustomerWrote) -> None:
    """A customer in the owner's Telegram Business chat: the first message starts the
    funnel as ``/start`` would, the others are typed text."""
    follow = entry(run, event)
    if isinstance(follow, Start):
        on_start(run, follow)
    else:
        on_text(run, follow)


def on_start(run: Run, event: Start) -> None:
    st = run.state
    for name in ("first_name", "last_name", "username", "language"):
        value = getattr(event, name)
        if value:
            setattr(st, name, value)
    if not st.started:
        st.started = True
        st.source = event.source
        st.status = LeadStatus.ACTIVE
        run.log(EventType.STARTED, None, source=event.source)
        run.run(run.funnel.start)
        return
    run.log(EventType.RESTARTED, st.step, source=event.source, status=st.status)
    if st.status in GONE:
        st.status = LeadStatus.ACTIVE
        run.log(EventType.RESUBSCRIBED, st.step)
        run.say(run.texts.restart)
        run.resume()
        return
    if st.status == LeadStatus.COMPLETED:
        run.say(run.texts.finished)
        return
    if st.status == LeadStatus.HANDED_OFF:
        run.say(run.texts.handed_off)
        return
    run.say(run.texts.restart)
    asking = {
        Waiting.ANSWER, Waiting.CONTACT, Waiting.MAGNET_CONTACT, Waiting.CONSENT,
        Waiting.SUBSCRIPTION,
    }  # fmt: skip
    if st.waiting in asking and st.step:
        run.run(st.step)
    else:
        on_resume(run, Resume())


def on_resume(run: Run, _event: Resume) -> None:
    """Ask again for work that never came back: a classification, a knowledge look-up.

    Harmless when it is merely still running elsewhere: the second answer is ignored.
    """
    st = run.state
    if st.status != LeadStatus.ACTIVE:
        return
    if st.waiting == Waiting.CLASSIFY:
        run.classify(None)
    elif st.asking:
        run.actions.append(AskKnowledge(st.asking, st.step, looks_like_question(st.asking)))


def on_text(run: Run, event: Text) -> None:
    """Typed text: an answer, a contact, a reply to a touch, or else ``off_script``."""
    st = run.state
    text, cut = clean_input(event.text)
    if not text:
        return
    if cut:
        run.log(EventType.INPUT_TRUNCATED, st.step, length=len(event.text))
    if st.status == LeadStatus.BLOCKED:
        st.status = LeadStatus.ACTIVE
        run.log(EventType.UNBLOCKED, st.step)
    if st.status == LeadStatus.UNSUBSCRIBED:
        run.log(EventType.MESSAGE_RECEIVED, st.step, text=text, status=st.status)
        run.say(run.texts.stop)
        return
    if cut:
        run.say(run.texts.too_long)  # the prospect knows the end of it was not read
    off = OffScript(run)
    if st.status == LeadStatus.HANDED_OFF:
        off.forward(text)
        return
    placed = run.funnel.get(st.step)
    if placed is not None:
        step = placed.step
        if st.waiting == Waiting.ANSWER and isinstance(step, QuestionStep):
            if off.is_answer(placed, text):
                answer_question(run, placed, text, typed=True)
            else:
                off.text(text)
            return
        if st.waiting in {Waiting.CONTACT, Waiting.MAGNET_CONTACT}:
            if off.is_contact_aside(text):
                off.text(text)
            else:
                typed_contact(run, placed, text)
            return
        if st.waiting == Waiting.TIMER and isinstance(step, WaitStep) and step.on_reply:
            run.log(EventType.REPLIED, placed.id, text=text)
            run.cancel_timers(EventType.REPLIED)
            run.run(step.on_reply)
            return
    off_script(run, text)


def off_script(run: Run, text: str) -> None:
    """Text the funnel did not ask for: a question, a request for a person, or noise."""
    st = run.state
    if st.waiting == Waiting.CLASSIFY and not looks_like_question(text):
        run.log(EventType.MESSAGE_RECEIVED, st.step, text=text)
        run.classify(None)  # still waiting here means the classification was lost: again
        return
    OffScript(run).text(text)


def on_press(run: Run, event: Press) -> None:
    st = run.state
    parts = event.data.split(":")
    if len(parts) != 3 or parts[0] != "b" or not parts[1].isdigit() or not parts[2].isdigit():
        run.toast = run.texts.not_current
        run.log(EventType.STALE_BUTTON, st.step, data=event.data[:64])
        return
    seq, index = parts[1], int(parts[2])
    step_id = st.live.get(seq)
    if step_id is not None and is_broadcast_step(step_id):
        broadcast_press(run, seq, step_id, index)
        return
    if step_id is not None and step_id.startswith((HUMAN_BUTTON, KNOWLEDGE_PREFIX)):
        if st.status in {LeadStatus.UNSUBSCRIBED, LeadStatus.HANDED_OFF}:
            run.toast = run.texts.not_current
            return
        del st.live[seq]
        if not OffScript(run).knowledge_press(step_id, index):
            run.toast = run.texts.not_current
        return
    placed = run.funnel.get(step_id)
    if placed is None or st.status in {LeadStatus.UNSUBSCRIBED, LeadStatus.HANDED_OFF}:
        run.toast = run.texts.not_current
        run.log(EventType.STALE_BUTTON, st.step, data=event.data)
        return
    if st.status == LeadStatus.BLOCKED:
        st.status = LeadStatus.ACTIVE
        run.log(EventType.UNBLOCKED, st.step)
    step = placed.step
    if isinstance(step, QuestionStep):
        if st.step != placed.id or st.waiting != Waiting.ANSWER or index >= len(step.options):
            run.toast = run.texts.not_current
            return
        del st.live[seq]
        answer_question(run, placed, step.options[index], typed=False)
        return
    del st.live[seq]
    if isinstance(step, ConsentStep):
        if st.step != placed.id or st.waiting != Waiting.CONSENT or index > 1:
            run.toast = run.texts.not_current
            return
        consent_answer(run, placed, step, agreed=index == 0)
        return
    if isinstance(step, OfferStep) and index == 0:
        offer_clicked(run, placed, step)
        return
    if isinstance(step, LeadMagnetStep):
        recheck(run, placed, step)
        return
    buttons = step.buttons if isinstance(step, MessageStep | OfferStep) else []
    offset = 1 if isinstance(step, OfferStep) else 0
    if not 0 <= index - offset < len(buttons):
        run.toast = run.texts.not_current
        return
    button = buttons[index - offset]
    run.log(
        EventType.BUTTON_PRESSED,
        placed.id,
        text=button.text,
        goto=button.goto,
        **run.variant_of(placed),
    )
    if button.goto:
        run.cancel_timers("button")
        sent = len(run.actions)
        run.run(button.goto)
        run.acknowledge(sent)


def on_contact(run: Run, event: Contact) -> None:
    shared_phone(run, event.phone)


def on_timer(run: Run, event: TimerFired) -> None:
    st = run.state
    if event.token != st.timer or st.status != LeadStatus.ACTIVE:
        run.log(EventType.TIMER_IGNORED, st.step, token=event.token)
        return
    st.timer = 0
    placed = run.funnel.get(st.step)
    run.priority = "touch"
    if placed is None:
        run.finish(None)
        return
    step = placed.step
    if isinstance(step, QuestionStep) and st.draft and st.waiting == Waiting.ANSWER:
        run.priority = "reply"
        commit_answer(run, placed, st.draft, "text", None)
        return
    if isinstance(step, QuestionStep) and step.on_timeout:
        run.log(EventType.NO_REPLY, placed.id, waited=str(step.timeout))
        run.run(step.on_timeout)
        return
    run.advance(placed)


def on_classified(run: Run, event: Classified) -> None:
    st = run.state
    if st.waiting != Waiting.CLASSIFY:
        run.log(EventType.CLASSIFICATION_IGNORED, st.step, segment=event.segment)
        return
    settle(run, "after_interview")
    funnel = run.funnel
    seg_id = event.segment if funnel.segment(event.segment) else funnel.fallback_segment
    segment = funnel.scenario.segments[seg_id]
    st.segment = seg_id
    st.readiness = event.readiness
    st.confidence = event.confidence
    st.summary = event.summary or st.summary
    for flag in event.flags:
        if flag not in st.flags:
            st.flags.append(flag)
    st.waiting = None
    run.log(
        EventType.CLASSIFIED,
        st.step,
        segment=seg_id,
        confidence=event.confidence,
        readiness=event.readiness,
        reason=event.reason,
        flags=list(event.flags),
        **event.details,
    )
    run.set_stage(segment.stage, st.step)
    if st.status != LeadStatus.ACTIVE:
        return  # classified all the same, but nobody to write to now
    if segment.hot and LeadFlag.INJECTION_SUSPECTED not in event.flags:
        # A suspected injection may keep an honest hot verdict, but never pages a manager.
        run.actions.append(Alert(AlertReason.HOT_SEGMENT, st.step))
    chain = funnel.chains.get(funnel.chain_of(seg_id)) or []
    if chain:
        run.run(chain[0])
    else:
        run.finish(st.step)


def on_stop(run: Run, _: Stop) -> None:
    st = run.state
    if st.status == LeadStatus.UNSUBSCRIBED:
        run.say(run.texts.stop, remove_keyboard=True)
        return
    st.status = LeadStatus.UNSUBSCRIBED
    run.cancel_timers(EventType.UNSUBSCRIBED)
    run.log(EventType.UNSUBSCRIBED, st.step)
    run.say(run.texts.stop, remove_keyboard=True)


def on_blocked(run: Run, event: Blocked) -> None:
    st = run.state
    if st.status == LeadStatus.BLOCKED:
        return
    st.status = LeadStatus.BLOCKED
    run.cancel_timers(EventType.BLOCKED)
    run.log(EventType.BLOCKED, st.step, reason=event.reason)


def on_release(run: Run, event: Release) -> None:
    st = run.state
    if st.status != LeadStatus.HANDED_OFF:
        return
    st.told_handed_off = False
    run.log(EventType.RELEASED, st.step, by=event.by)
    if st.after_manager == LeadStatus.COMPLETED:
        # A finished lead whose chat the business owner stepped into: finished again.
        st.status, st.waiting, st.after_manager = LeadStatus.COMPLETED, None, ""
        return
    st.status = LeadStatus.ACTIVE
    run.priority = "touch"
    run.resume()


#: Each input type's handler; ``dispatch`` looks the input up here.
INPUT_HANDLERS: Mapping[type[Any], Callable[[Run, Any], None]] = {
    Start: on_start,
    Text: on_text,
    Press: on_press,
    Contact: on_contact,
    TimerFired: on_timer,
    Classified: on_classified,
    Looked: lambda run, event: OffScript(run).looked(event),
    Stop: on_stop,
    Blocked: on_blocked,
    Release: on_release,
    Paid: paid,
    Broadcast: broadcast,
    Membership: membership,
    JoinRequest: on_join_request,
    CustomerWrote: on_customer_wrote,
    OwnerWrote: owner_wrote,
    Resume: on_resume,
}
