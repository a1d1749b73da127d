"""Step handlers: what each step kind does when the chain reaches it, as a table.

A handler runs one step and returns (the next step id, whether the chain now waits).
To add a step kind: a model in ``bot.scenario.model``, a handler here, a row in
``STEP_HANDLERS`` (the import-time check below names a kind without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import get_args

from bot.engine.interview import ask_contact, contact_known, text_version
from bot.engine.offers import deliver_magnet, gated, show_offer
from bot.engine.run import Run, StepHandler
from bot.engine.types import Alert
from bot.scenario.funnel import Placed
from bot.scenario.model import (
    AnyStep,
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
    QuestionStep,
    WaitStep,
)
from bot.vocabulary import AlertReason, Consent, EventType, LeadStatus, Stage, Waiting

Next = tuple[str | None, bool]


def message(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, MessageStep)
    variant = run.variant(placed, step.variants)
    buttons = run.buttons_for(placed.id, [(b.text, b.url) for b in step.buttons])
    run.say(
        variant.text if variant else step.message,
        placed.id,
        buttons=buttons,
        image=(variant.image if variant and variant.image else step.image),
        document=step.document,
    )
    run.log(EventType.STEP_SENT, placed.id, kind="message", **run.variant_of(placed))
    return run.funnel.following(placed.id), False


def consent(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, ConsentStep)
    if run.state.consent == Consent.GIVEN:
        return run.funnel.following(placed.id), False
    labels: list[tuple[str, str | None]] = [(step.agree, None), (step.decline, None)]
    labels.append((step.policy_text or run.texts.policy_button, step.policy_url))
    run.say(step.consent, placed.id, buttons=run.buttons_for(placed.id, labels))
    run.log(EventType.CONSENT_REQUESTED, placed.id, version=text_version(step.consent))
    run.state.waiting = Waiting.CONSENT
    return None, True


def question(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, QuestionStep)
    buttons = run.buttons_for(placed.id, [(o.text, None) for o in step.options])
    run.say(step.question, placed.id, buttons=buttons)
    run.log(EventType.QUESTION_ASKED, placed.id, key=step.key or placed.id)
    run.state.waiting = Waiting.ANSWER
    if step.timeout is not None:
        run.schedule(placed, step.timeout.due(run.now, run.funnel.timezone))
    return None, True


def contact(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, ContactStep)
    following = run.funnel.following(placed.id)
    if contact_known(run, step.ask):
        run.log(EventType.CONTACT_KNOWN, placed.id)
        return following, False
    if not run.may_ask_contact():
        run.log(EventType.CONTACT_SKIPPED, placed.id, reason="no consent")
        return step.on_skip or following, False
    ask_contact(run, placed, step.contact, step.ask, step.optional, step.button)
    return None, True


def classify(run: Run, placed: Placed) -> Next:
    run.classify(placed)
    return None, True


def lead_magnet(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, LeadMagnetStep)
    st = run.state
    following = run.funnel.following(placed.id)
    if step.requires_contact and not st.has_contact and not run.may_ask_contact():
        run.log(EventType.LEAD_MAGNET_DECLINED, placed.id, title=step.title, reason="no consent")
        return following, False
    if step.requires_contact and not st.has_contact:
        prompt = step.contact_prompt or step.lead_magnet
        ask_contact(run, placed, prompt, "phone_or_email", True, None)
        st.waiting = Waiting.MAGNET_CONTACT
        return None, True
    if gated(run, placed, step):
        return None, True
    deliver_magnet(run, placed, step)
    return following, False


def offer(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, OfferStep)
    show_offer(run, placed, step)
    return run.funnel.following(placed.id), False


def wait(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, WaitStep)
    run.schedule(placed, step.wait.due(run.now, run.funnel.timezone))
    return None, True


def branch(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, BranchStep)
    value = branch_value(run, step.branch)
    target = next((c.goto for c in step.cases if c.matches(value)), None)
    target = target or step.default or run.funnel.following(placed.id)
    run.log(EventType.BRANCHED, placed.id, on=step.branch, value=value, goto=target)
    return target, False


def branch_value(run: Run, name: str) -> str | None:
    st = run.state
    if name == "segment":
        return st.segment
    if name == "source":
        return st.source
    if name == "has_contact":
        return "true" if st.has_contact else "false"
    return st.answers.get(name)


def handoff(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, HandoffStep)
    st = run.state
    run.say(step.handoff, placed.id, remove_keyboard=True)
    st.status = LeadStatus.HANDED_OFF
    st.waiting = Waiting.MANAGER
    st.told_handed_off = True  # the step's own text said it
    run.cancel_timers(EventType.HANDED_OFF)
    run.log(EventType.HANDED_OFF, placed.id)
    run.raise_stage(Stage.HOT, placed.id)
    run.actions.append(Alert(AlertReason.HANDOFF, placed.id))
    return None, True


def end(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, EndStep)
    if isinstance(step.end, str):
        run.say(step.end, placed.id, remove_keyboard=True)
    run.finish(placed.id)
    return None, True


def goto(run: Run, placed: Placed) -> Next:
    step = placed.step
    assert isinstance(step, GotoStep)
    return step.goto, False


STEP_HANDLERS: Mapping[str, StepHandler] = {
    MessageStep.kind: message,
    ConsentStep.kind: consent,
    QuestionStep.kind: question,
    ContactStep.kind: contact,
    ClassifyStep.kind: classify,
    LeadMagnetStep.kind: lead_magnet,
    OfferStep.kind: offer,
    WaitStep.kind: wait,
    BranchStep.kind: branch,
    HandoffStep.kind: handoff,
    EndStep.kind: end,
    GotoStep.kind: goto,
}


def _check_every_kind_has_a_handler() -> None:
    kinds = {cls.kind for cls in get_args(AnyStep)}
    missing = kinds - set(STEP_HANDLERS)
    if missing:
        raise RuntimeError(f"no step handler for kind(s): {', '.join(sorted(missing))}")


_check_every_kind_has_a_handler()
