"""Telegram Business chats in the engine alone: the customer's first message is the entry,
the owner's message makes the bot step back, a release gives a finished lead back as it was.
"""

from __future__ import annotations

from bot.engine.engine import Engine
from bot.engine.types import (
    Alert,
    CancelTimers,
    CustomerWrote,
    LeadState,
    Outcome,
    OwnerWrote,
    Press,
    Release,
    Text,
)
from bot.reports.describe import describe
from bot.scenario.loader import load_funnel
from bot.service import utcnow
from bot.vocabulary import (
    HANDOFF_BY_OWNER,
    AlertReason,
    EventType,
    LeadStatus,
    Waiting,
    business_source,
)
from tests.conftest import MINI

SOURCE = business_source("coffee_shop")


def engine() -> Engine:
    return Engine(load_funnel(MINI))


def said(outcome: Outcome) -> list[str]:
    return [m.text for m in outcome.messages]


def logged(outcome: Outcome) -> list[tuple[str, dict[str, object]]]:
    return [(str(a.type), a.payload) for a in outcome.logs]


def first_button(outcome: Outcome) -> Press:
    data = next(b.data for m in outcome.messages for row in m.buttons for b in row if b.data)
    assert data is not None
    return Press(data)


def test_the_first_message_starts_the_funnel_and_later_ones_are_answers() -> None:
    e, now = engine(), utcnow()
    out = e.handle(LeadState(), CustomerWrote("Do you deliver?", SOURCE, "Anna"), now)
    assert said(out)[:2] == ["Hello, Anna!", "What do you need?"]
    assert out.state.source == SOURCE and out.state.first_name == "Anna"
    assert logged(out)[:2] == [
        ("message_received", {"text": "Do you deliver?", "kind": "entry"}),
        ("started", {"source": SOURCE}),
    ]
    for _ in range(2):
        out = e.handle(out.state, first_button(out), now)
    out = e.handle(out.state, CustomerWrote("An office of 20", SOURCE), now)
    assert out.state.answers["about"] == "An office of 20" and out.state.source == SOURCE
    assert said(out) == ["Leave your phone?"]


def test_the_customers_language_picks_the_translation_at_once() -> None:
    out = engine().handle(LeadState(), CustomerWrote("", SOURCE, "Anna", language="ru"), utcnow())
    assert out.state.language == "ru"
    assert not [t for t, _ in logged(out) if t == EventType.MESSAGE_RECEIVED]  # no words


def test_the_owner_writing_makes_the_bot_step_back() -> None:
    e, now = engine(), utcnow()
    out = e.handle(LeadState(), CustomerWrote("Hi", SOURCE, "Anna"), now)
    for _ in range(2):
        out = e.handle(out.state, first_button(out), now)
    assert out.state.waiting == Waiting.ANSWER  # "Tell us about your office", an hour's timer
    timer = out.state.timer
    assert timer

    out = e.handle(out.state, OwnerWrote("I'll call you, Anna", "owner @coffee_shop"), now)
    st = out.state
    assert (st.status, st.waiting, st.timer, st.told_handed_off) == (
        LeadStatus.HANDED_OFF,
        Waiting.MANAGER,
        0,
        True,
    )
    assert said(out) == []  # the owner is writing: no "a manager will write to you"
    assert any(isinstance(a, CancelTimers) for a in out.actions)
    assert logged(out) == [
        ("manager_message", {"text": "I'll call you, Anna", "by": "owner @coffee_shop"}),
        ("handed_off", {"reason": HANDOFF_BY_OWNER, "by": "owner @coffee_shop"}),
    ]
    alerts = [a for a in out.actions if isinstance(a, Alert)]
    assert [(a.reason, a.note) for a in alerts] == [
        (AlertReason.HANDOFF, "owner @coffee_shop: I'll call you, Anna")
    ]

    # Her answer reaches the managers; the bot stays silent.
    quiet = e.handle(st, Text("OK, thanks"), now)
    assert said(quiet) == [] and [a.reason for a in quiet.actions if isinstance(a, Alert)] == [
        AlertReason.MESSAGE
    ]
    # The owner writes again: logged, no second hand-off or alert.
    again = e.handle(quiet.state, OwnerWrote("Calling now", "owner @coffee_shop"), now)
    assert [t for t, _ in logged(again)] == ["manager_message"]
    assert not [a for a in again.actions if isinstance(a, Alert)]
    # Given back: the pending question is asked again.
    back = e.handle(again.state, Release("timeout"), now)
    assert back.state.status == LeadStatus.ACTIVE
    assert said(back) == ["Tell us about your office."]


def test_the_owner_opening_the_chat_keeps_the_bot_out() -> None:
    out = engine().handle(LeadState(), OwnerWrote("Hello!", "owner @coffee_shop", SOURCE), utcnow())
    st = out.state
    assert st.started and st.source == SOURCE and st.status == LeadStatus.HANDED_OFF
    assert said(out) == [] and not [a for a in out.actions if isinstance(a, Alert)]
    assert [t for t, _ in logged(out)] == ["started", "handed_off"]
    # The customer's first answer goes to the managers, not into the funnel.
    reply = engine().handle(st, CustomerWrote("Hi, what do you sell?", SOURCE), utcnow())
    assert said(reply) == [] and reply.state.status == LeadStatus.HANDED_OFF


def test_a_finished_lead_goes_back_to_finished_after_the_owner() -> None:
    e, now = engine(), utcnow()
    out = e.handle(LeadState(), CustomerWrote("Hi", SOURCE, "Anna"), now)
    st = out.state
    st.status, st.waiting = LeadStatus.COMPLETED, None  # as at the end of a chain
    out = e.handle(st, OwnerWrote("Anything else?", "owner @coffee_shop"), now)
    assert out.state.status == LeadStatus.HANDED_OFF and out.state.after_manager == "completed"
    quiet = e.handle(out.state, Text("No, thanks"), now)
    assert said(quiet) == []  # not the knowledge base, not "we are done": the owner talks
    back = e.handle(quiet.state, Release("timeout"), now)
    assert back.state.status == LeadStatus.COMPLETED and said(back) == []
    assert back.state.after_manager == "" and back.state.waiting is None
    assert [t for t, _ in logged(back)] == ["released"]


def test_a_blocked_lead_hears_of_the_owner_but_stays_blocked() -> None:
    e, now = engine(), utcnow()
    out = e.handle(LeadState(), CustomerWrote("Hi", SOURCE, "Anna"), now)
    st = out.state
    st.status = LeadStatus.BLOCKED
    out = e.handle(st, OwnerWrote("Are you there?", "owner @coffee_shop"), now)
    assert out.state.status == LeadStatus.BLOCKED
    assert [t for t, _ in logged(out)] == ["manager_message"]


def test_the_timeline_says_who_stepped_in() -> None:
    owner = {"reason": HANDOFF_BY_OWNER, "by": "owner @coffee_shop"}
    assert (
        describe("handed_off", owner) == "the owner wrote in the business chat (owner @coffee_shop)"
    )
    assert describe("handed_off", {"reason": "asked"}) == "reason=asked"
    gone = describe("business_disconnected", {"connection": "c", "standing": "disabled"})
    assert gone == "connection disabled: nothing is sent"
