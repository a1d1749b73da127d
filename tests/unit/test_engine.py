"""The engine on plain values: every step kind, branch, wait and edge a prospect can hit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.engine.engine import Engine
from bot.engine.types import (
    Alert,
    Blocked,
    CancelTimers,
    Classified,
    ClassifyRequest,
    Contact,
    Input,
    LeadState,
    Outcome,
    Paid,
    Press,
    RecordOrder,
    Release,
    SaveAnswer,
    Schedule,
    Start,
    Stop,
    Text,
    TimerFired,
)
from bot.scenario.funnel import Funnel
from bot.scenario.loader import parse_funnel
from bot.vocabulary import Stage

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Walk:
    """A prospect walking a funnel: keeps the state and the last outcome."""

    def __init__(self, funnel: Funnel, now: datetime = NOW) -> None:
        self.engine = Engine(funnel)
        self.state = LeadState()
        self.now = now
        self.out = Outcome(self.state)
        self.history: list[Outcome] = []

    def __call__(self, event: Input) -> Outcome:
        self.out = self.engine.handle(self.state, event, self.now)
        self.state = self.out.state
        self.history.append(self.out)
        return self.out

    def texts(self) -> list[str]:
        return [m.text for m in self.out.messages]

    def types(self) -> list[str]:
        return [log.type for log in self.out.logs]

    def button(self, label: str) -> Press:
        for message in reversed(self.out.messages):
            for row in message.buttons:
                for button in row:
                    if button.text == label and button.data:
                        return Press(button.data)
        raise AssertionError(f"no button {label!r} in {self.texts()}")

    def schedule(self) -> Schedule:
        found = [a for a in self.out.actions if isinstance(a, Schedule)]
        assert found, f"nothing scheduled: {self.out.actions}"
        return found[-1]

    def fire(self) -> Outcome:
        scheduled = self.schedule()
        self.now = scheduled.due
        return self(TimerFired(scheduled.token))

    def classify(self, segment: str, confidence: int = 90) -> Outcome:
        assert any(isinstance(a, ClassifyRequest) for a in self.out.actions)
        return self(Classified(segment=segment, confidence=confidence, readiness="comparing"))


def interview_to_classify(walk: Walk, need: str = "Buy now") -> None:
    walk(Start(source="ads", first_name="Ann"))
    walk(walk.button(need))
    walk(walk.button("Big"))
    walk(Text("A big office"))
    walk(Contact("+7 999 123-45-67"))


def test_start_greets_and_asks_first_question(mini: Funnel) -> None:
    walk = Walk(mini)
    out = walk(Start(source="vk_ads_nov", first_name="Ann"))
    assert walk.texts() == ["Hello, Ann!", "What do you need?"]
    assert walk.types() == ["started", "step_sent", "question_asked"]
    assert out.logs[0].payload == {"source": "vk_ads_nov"}
    assert out.state.source == "vk_ads_nov"
    assert out.state.waiting == "answer" and out.state.step == "q_need"
    buttons = [b.text for row in out.messages[1].buttons for b in row]
    assert buttons == ["Buy now", "Just looking"]


def test_state_is_not_mutated(mini: Funnel) -> None:
    engine = Engine(mini)
    state = LeadState()
    engine.handle(state, Start(first_name="Ann"), NOW)
    assert state == LeadState()


def test_button_answer_is_saved_and_moves_on(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    out = walk(walk.button("Buy now"))
    assert SaveAnswer("need", "What do you need?", "buy") in out.actions
    assert walk.texts() == ["Your budget?"]
    assert out.state.answers == {"need": "buy"}
    assert out.state.stage == "cold"


def test_typed_option_text_counts_as_the_option(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    out = walk(Text("buy NOW"))
    assert out.state.answers == {"need": "buy"}


def test_text_where_only_buttons_fit_gets_a_hint(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    out = walk(Text("hmm?"))
    assert walk.texts() == ["Please use the buttons."]
    assert out.state.step == "q_need" and out.state.waiting == "answer"


def test_second_press_of_the_same_button_does_nothing(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    press = walk.button("Buy now")
    walk(press)
    again = walk(press)
    assert again.messages == [] and again.toast
    assert again.state.answers == {"need": "buy"}


def test_garbage_callback_data_is_a_toast_not_an_error(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    out = walk(Press("nonsense"))
    assert out.toast and out.messages == []
    assert walk.types() == ["stale_button"]


def test_question_timeout_branches_on_no_reply(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    assert walk.schedule().due == NOW + timedelta(hours=1)
    out = walk.fire()
    assert "no_reply" in walk.types()
    assert any(isinstance(a, ClassifyRequest) for a in out.actions)
    assert out.state.waiting == "classify"


def test_stale_timer_is_ignored(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    token = walk.schedule().token
    walk(Text("We are a shop"))  # answers, so the timeout no longer applies
    out = walk(TimerFired(token))
    assert walk.types() == ["timer_ignored"] and out.messages == []


def test_contact_then_classification_starts_the_segment_chain(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    assert walk.state.phone == "+79991234567"
    assert walk.texts() == ["Thank you!", "Thinking…"]
    request = next(a for a in walk.out.actions if isinstance(a, ClassifyRequest))
    assert ("need", "What do you need?", "buy") in request.answers
    out = walk.classify("hot")
    assert out.state.segment == "hot" and out.state.stage == "hot"
    assert Alert("hot_segment", "classify") in out.actions
    assert walk.texts() == ["Machine X for Ann"]
    assert walk.types()[:2] == ["classified", "stage_changed"]
    assert "offer_shown" in walk.types()
    assert out.state.waiting == "timer" and out.state.step == "hot-2"


def test_contact_typed_as_text_and_skipping(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    walk(Text("office"))
    asked = walk.out.messages[-1]
    assert asked.contact_button and asked.reply_options == ("Skip",)
    walk(Text("not a phone"))
    assert walk.types() == ["contact_invalid"]
    walk(Text("Skip"))
    assert "contact_declined" in walk.types()
    assert walk.state.phone is None and walk.state.waiting == "classify"


def test_offer_click_logs_links_and_jumps(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    walk.classify("hot")
    out = walk(walk.button("I want it"))
    assert walk.types()[0] == "offer_clicked"
    assert out.logs[0].payload["price"] == "1000"
    link = out.messages[0].buttons[0][0]
    assert link.url == "https://shop.test/x"
    assert any(isinstance(a, CancelTimers) for a in out.actions)
    assert out.state.status == "handed_off" and "handed_off" in walk.types()
    assert Alert("offer_clicked", "hot_offer") in out.actions


def test_wait_with_on_reply_jumps_when_the_prospect_writes(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    walk.classify("hot")
    out = walk(Text("How much for two?"))
    assert walk.types()[0] == "replied"
    assert out.state.status == "handed_off"


def test_no_reply_goes_on_after_the_wait(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    walk.classify("hot")
    assert walk.schedule().due == walk.now + timedelta(hours=2)
    walk.fire()
    assert walk.texts() == ["Here is a discount."]
    nxt = walk.schedule()
    # "next day at 10:00" in the scenario's time zone (Moscow, UTC+3).
    assert nxt.due == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    out = walk.fire()
    assert walk.texts() == ["Bye!"] and out.state.status == "completed"


def test_message_button_jumps_and_cancels_the_wait(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    walk.classify("hot")
    walk.fire()
    out = walk(walk.button("Call me"))
    assert any(isinstance(a, CancelTimers) for a in out.actions)
    assert out.state.step == "hot_call" and out.state.status == "handed_off"


def test_handoff_release_continues_the_chain(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    walk.classify("hot")
    walk(Text("call me"))
    quiet = walk(Text("hello?"))
    assert quiet.messages == [] and walk.types() == ["message_received"]
    out = walk(Release(by="manager"))
    assert walk.types()[0] == "released"
    assert out.state.status == "completed"  # the step after the hand-off is the end


def test_lead_magnet_requires_contact_and_branch_on_answer(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Just looking"))
    walk(walk.button("Big"))
    walk(Text("small office"))
    walk(Text("Skip"))
    walk.classify("info")
    assert walk.texts() == ["Leave a contact for the guide"]
    assert walk.state.waiting == "magnet_contact"
    out = walk(Text("ann@example.com"))
    assert out.state.email == "ann@example.com"
    delivered = [m for m in out.messages if m.document]
    assert delivered and delivered[0].document == "assets/guide.pdf"
    assert "lead_magnet_delivered" in walk.types()
    walk.fire()
    assert walk.texts() == ["Trial pack", "See you."]  # branch: budget == big
    assert walk.state.status == "completed"
    assert walk.types()[-1] == "finished"


def test_declined_lead_magnet_goes_on_without_it(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Just looking"))
    walk(walk.button("Tiny"))
    walk(Text("small office"))
    walk(Text("Skip"))
    walk.classify("info")
    out = walk(Text("Skip"))
    assert "lead_magnet_declined" in walk.types()
    assert not any(m.document for m in out.messages)
    walk.fire()
    assert walk.texts() == ["Come back later.", "See you."]  # branch default


def test_not_client_segment_ends_politely(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    out = walk.classify("nope")
    assert walk.texts() == ["Sorry, we cannot help."]
    assert out.state.status == "completed"


def test_unknown_segment_goes_to_fallback(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    out = walk.classify("vip")
    assert out.state.segment == "info"


def test_stop_cancels_and_start_resumes(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    walk.classify("hot")
    out = walk(Stop())
    assert out.state.status == "unsubscribed"
    assert any(isinstance(a, CancelTimers) for a in out.actions)
    assert walk.types() == ["unsubscribed"]
    ignored = walk(TimerFired(walk.state.timer))
    assert ignored.messages == []
    out = walk(Start(source="other", first_name="Ann"))
    assert out.state.status == "active" and out.state.source == "ads"
    assert walk.types()[:2] == ["restarted", "resubscribed"]
    assert walk.texts()[1] == "Here is a discount."  # the wait it was in is over


def test_start_again_mid_question_repeats_the_question(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(Start(first_name="Ann"))
    assert walk.texts()[-1] == "What do you need?"
    new = walk.button("Buy now")
    old = walk.history[0].messages[1].buttons[0][0].data
    # Either copy of the open question answers it once; then both are dead.
    assert walk(Press(old or "")).state.answers == {"need": "buy"}
    assert walk(new).toast


def test_blocked_then_writes_again(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    out = walk(Blocked("bot was blocked by the user"))
    assert out.state.status == "blocked" and walk.types() == ["blocked"]
    out = walk(Text("Buy now"))
    assert out.state.status == "active" and out.state.answers == {"need": "buy"}


def test_prospect_values_are_escaped(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="<b>Боб & Co</b>"))
    assert walk.texts()[0] == "Hello, &lt;b&gt;Боб &amp; Co&lt;/b&gt;!"


def test_huge_input_is_cut_and_logged(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    out = walk(Text("x" * 50_000))
    assert walk.types()[0] == "input_truncated"
    assert len(out.state.answers["about"]) == 2000


def _with_debounce(funnel: Funnel, tmp_path: Path) -> Funnel:
    text = funnel.path.read_text().replace("debounce: 0s", "debounce: 3s")
    copy = tmp_path / "mini.yaml"
    copy.write_text(text)
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "guide.pdf").write_bytes(b"%PDF-1.4\n")
    return parse_funnel(text, copy, "Europe/Moscow")


def test_burst_of_messages_is_one_answer(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(_with_debounce(mini, tmp_path))
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    first = walk(Text("We are an office"))
    assert first.messages == [] and first.state.draft == "We are an office"
    walk.now += timedelta(seconds=1)
    walk(Text("of 40 people"))
    scheduled = walk.schedule()
    assert scheduled.due == walk.now + timedelta(seconds=3)
    out = walk.fire()
    assert out.state.answers["about"] == "We are an office\nof 40 people"
    assert walk.out.messages[0].priority == "reply"
    assert walk.texts() == ["Leave your phone?"]


def test_classification_when_not_waiting_is_ignored(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    out = walk(Classified(segment="hot", confidence=99, readiness="ready_to_buy"))
    assert out.state.segment is None and walk.types() == ["classification_ignored"]


@pytest.mark.parametrize("stage", ["visitor", "cold"])
def test_contact_raises_stage_to_warm(mini: Funnel, stage: str) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk.state = replace(walk.state, stage=Stage(stage))
    out = walk(Contact("+79990001122"))
    assert out.state.stage == "warm" and out.state.phone == "+79990001122"


def test_invoice_and_payment_make_a_customer(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Just looking"))
    walk(walk.button("Big"))
    walk(Text("office"))
    walk(Contact("+79990001122"))
    walk.classify("info")
    walk.fire()  # the wait after the lead magnet; the branch shows the trial pack
    out = walk(walk.button("I want it"))
    invoice = out.messages[0].invoice
    assert invoice is not None and (invoice.amount, invoice.currency) == (990, "RUB")
    assert invoice.payload == "offer:info_big" and "invoice_sent" in walk.types()
    paid = walk(Paid(invoice.payload, 990, "RUB", "charge-1"))
    assert paid.state.stage == "customer"
    order = next(log for log in paid.logs if log.type == "order_paid")
    assert order.payload["amount"] == "9.9" and order.payload["tier"] == "tripwire"
    assert RecordOrder("info_big", "tripwire", "Trial pack", 990, "RUB", "charge-1") in paid.actions
    assert walk.texts() == [
        "Payment received — thank you! «Trial pack» is yours.",
        "Here is a bonus for customers.",
    ]
    again = walk(Paid(invoice.payload, 990, "RUB", "charge-1"))
    assert [log.type for log in again.logs] == ["payment_duplicate"] and again.messages == []
