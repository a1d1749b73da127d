"""The interview: questions and answers, contacts, and consent.

Asking is done by the step handlers (``bot.engine.steps``); what the prospect answers,
typed or pressed, lands here from ``bot.engine.dispatch``.
"""

from __future__ import annotations

import hashlib

from bot.engine.joins import settle
from bot.engine.offers import deliver_magnet, gated
from bot.engine.run import Run
from bot.engine.text import contact_problem, normalize_email, normalize_phone
from bot.engine.types import SaveAnswer, Schedule
from bot.scenario.funnel import Placed
from bot.scenario.model import ConsentStep, ContactStep, LeadMagnetStep, Option, QuestionStep
from bot.vocabulary import Consent, EventType, Stage, Waiting

MAX_DRAFT = 4000


def text_version(text: str) -> str:
    """A short fingerprint of a text, so a stored consent says which wording was agreed to."""
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# --- questions ---------------------------------------------------------------------------


def answer_question(run: Run, placed: Placed, answer: Option | str, typed: bool) -> None:
    step = placed.step
    assert isinstance(step, QuestionStep)
    option = answer if isinstance(answer, Option) else None
    if isinstance(answer, str):
        option = next((o for o in step.options if o.text.casefold() == answer.casefold()), None)
        if option is None and not step.accepts_text:
            run.log(EventType.MESSAGE_RECEIVED, placed.id, text=answer)
            run.say(run.texts.unknown)
            return
    if option is not None:
        commit_answer(run, placed, option.stored, "text" if typed else "button", option.goto)
        return
    assert isinstance(answer, str)
    debounce = run.funnel.scenario.classifier.debounce
    if not debounce:
        commit_answer(run, placed, answer, "text", None)
        return
    # A burst of short messages is one answer: collect until the prospect pauses.
    st = run.state
    st.draft = f"{st.draft}\n{answer}"[-MAX_DRAFT:] if st.draft else answer
    run.cancel_timers("typing")
    st.timer += 1
    run.actions.append(Schedule(st.timer, run.now + debounce, placed.id, kind="reply"))


def commit_answer(run: Run, placed: Placed, value: str, via: str, goto: str | None) -> None:
    step = placed.step
    assert isinstance(step, QuestionStep)
    st = run.state
    key = step.key or placed.id
    st.answers[key] = value
    st.waiting = None
    st.draft = ""
    run.cancel_timers("answered")
    for seq, owner in list(st.live.items()):
        if owner == placed.id:
            del st.live[seq]
    run.actions.append(SaveAnswer(key, step.question, value))
    run.log(EventType.ANSWER_GIVEN, placed.id, key=key, value=value, via=via)
    run.raise_stage(Stage.COLD, placed.id)
    if goto:
        run.run(goto)
    else:
        run.advance(placed)


# --- contacts ----------------------------------------------------------------------------


def contact_known(run: Run, ask: str) -> bool:
    st = run.state
    return bool({"phone": st.phone, "email": st.email}.get(ask, st.has_contact))


def ask_contact(
    run: Run, placed: Placed, text: str, ask: str, optional: bool, button: str | None
) -> None:
    wants_phone = ask in {"phone", "phone_or_email"}
    run.say(
        text,
        placed.id,
        contact_button=(button or run.texts.phone_button) if wants_phone else None,
        reply_options=(run.texts.skip_button,) if optional else (),
    )
    run.log(EventType.CONTACT_REQUESTED, placed.id, ask=ask)
    run.state.waiting = Waiting.CONTACT


def shared_phone(run: Run, phone: str) -> None:
    """The prospect pressed "share phone" (Telegram's contact button)."""
    st = run.state
    if not run.may_ask_contact():
        run.log(EventType.CONTACT_REFUSED, st.step, reason="no consent")
        run.say(run.texts.unknown, remove_keyboard=True)
        return
    st.phone = normalize_phone(phone, run.funnel.scenario.language) or phone.strip()[:32]
    run.log(EventType.CONTACT_SHARED, st.step, kind="phone")
    run.raise_stage(Stage.WARM, st.step)
    placed = run.funnel.get(st.step)
    if placed is not None and st.waiting in {Waiting.CONTACT, Waiting.MAGNET_CONTACT}:
        after_contact(run, placed)
        return
    run.say(run.texts.contact_thanks, st.step, remove_keyboard=True)


def typed_contact(run: Run, placed: Placed, text: str) -> None:
    st = run.state
    ask = placed.step.ask if isinstance(placed.step, ContactStep) else "phone_or_email"
    if text.casefold() == run.texts.skip_button.casefold():
        skip_contact(run, placed)
        return
    if ask in {"email", "phone_or_email"} and (email := normalize_email(text)):
        st.email = email
        run.log(EventType.CONTACT_SHARED, placed.id, kind="email")
        run.raise_stage(Stage.WARM, placed.id)
        after_contact(run, placed)
        return
    if ask in {"phone", "phone_or_email"} and (
        phone := normalize_phone(text, run.funnel.scenario.language)
    ):
        st.phone = phone
        run.log(EventType.CONTACT_SHARED, placed.id, kind="phone", typed=True)
        run.raise_stage(Stage.WARM, placed.id)
        after_contact(run, placed)
        return
    run.log(EventType.CONTACT_INVALID, placed.id)
    run.say(contact_problem(text, ask, run.texts))  # a phone typo and an e-mail typo differ


def skip_contact(run: Run, placed: Placed) -> None:
    run.state.waiting = None
    run.log(EventType.CONTACT_DECLINED, placed.id)
    step = placed.step
    if isinstance(step, LeadMagnetStep):
        run.log(EventType.LEAD_MAGNET_DECLINED, placed.id, title=step.title)
        run.say(run.texts.contact_skipped, placed.id, remove_keyboard=True)
        run.advance(placed)
        return
    assert isinstance(step, ContactStep)
    run.say(run.texts.contact_skipped, placed.id, remove_keyboard=True)
    if step.on_skip:
        run.run(step.on_skip)
    else:
        run.advance(placed)


def after_contact(run: Run, placed: Placed) -> None:
    run.state.waiting = None
    step = placed.step
    if isinstance(step, LeadMagnetStep):
        run.say(run.texts.contact_thanks, placed.id, remove_keyboard=True)
        if not gated(run, placed, step):
            deliver_magnet(run, placed, step)
            run.advance(placed)
        return
    thanks = step.thanks if isinstance(step, ContactStep) and step.thanks else None
    run.say(thanks or run.texts.contact_thanks, placed.id, remove_keyboard=True)
    run.advance(placed)


# --- consent -----------------------------------------------------------------------------


def consent_answer(run: Run, placed: Placed, step: ConsentStep, agreed: bool) -> None:
    st = run.state
    version = text_version(step.consent)
    st.consent = Consent.GIVEN if agreed else Consent.DECLINED
    st.consent_version, st.consent_at = version, run.now
    st.waiting = None
    event = EventType.CONSENT_GIVEN if agreed else EventType.CONSENT_DECLINED
    run.log(event, placed.id, version=version)
    settle(run, "after_consent", agreed)
    if not agreed and step.on_decline:
        run.run(step.on_decline)
    else:
        run.advance(placed)
