"""Off-script messages at every kind of step: answered from the knowledge base, then resumed.

Each test walks the engine on plain values; ``look`` plays the service's part (the offline
librarian) for the ``AskKnowledge`` the engine asks for.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bot.engine.offscript import is_noise, looks_like_question, wants_human
from bot.engine.types import (
    Alert,
    AskKnowledge,
    Broadcast,
    CancelTimers,
    Looked,
    Outcome,
    Release,
    Schedule,
    Start,
    Text,
    TimerFired,
)
from bot.knowledge.librarian import look_up_offline
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.scenario.model import MessageStep
from bot.vocabulary import EventType, LeadStatus
from tests.conftest import DATA
from tests.unit.test_engine import Walk, interview_to_classify

UNKNOWN = "I don't have an exact answer to that here"


@pytest.fixture(scope="module")
def kb() -> Funnel:
    return load_funnel(DATA / "kb.yaml", "Europe/Moscow")


def look(walk: Walk) -> Outcome:
    """The service's part: look the engine's question up offline and hand the pick back."""
    asks = [a for a in walk.out.actions if isinstance(a, AskKnowledge)]
    assert asks, f"no look-up asked: {walk.out.actions}"
    return walk(look_up_offline(walk.engine.funnel, asks[0]))


def ask(walk: Walk, text: str) -> Outcome:
    walk(Text(text))
    return look(walk)


def timers(out: Outcome) -> list[object]:
    return [a for a in out.actions if isinstance(a, Schedule | CancelTimers)]


def alerts(out: Outcome) -> list[Alert]:
    return [a for a in out.actions if isinstance(a, Alert)]


def buttons(out: Outcome, index: int = -1) -> list[str]:
    return [b.text for row in out.messages[index].buttons for b in row]


# --- recognising ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "позовите менеджера",
        "дайте контакт менеджера",
        "call a manager",
        "Менеджер",
        "can I talk to a human",
        "Хочу поговорить с человеком, а не с ботом",
        "please let me talk to a real person",
    ],
)
def test_requests_for_a_person(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "у нас нет менеджера по продажам в штате",
        "We sell to offices",
        "У нас 200 человек в месяц приходит",
    ],
)
def test_not_requests_for_a_person(text: str) -> None:
    assert not wants_human(text)


def test_question_shapes_and_noise() -> None:
    assert looks_like_question("а сколько стоит")
    assert looks_like_question("How long does it take")
    assert looks_like_question("с ИП договор заключаете?")
    assert not looks_like_question("We have a big office with 40 people")
    assert is_noise("спасибо!") and is_noise("👍") and not is_noise("how much")


@pytest.mark.parametrize(
    ("text", "noise"),
    [
        ("Спасибо большое!", True),
        ("понял, жду", True),
        ("thank you so much 🙏", True),
        ("ok, noted", True),
        ("нет", False),  # an answer to a yes/no question, not noise
        ("Пока не знаю", False),
        ("Бюджет до 50 тысяч", False),
    ],
)
def test_noise(text: str, noise: bool) -> None:
    assert is_noise(text) == noise


@pytest.mark.parametrize(
    "text", ["Покажите примеры ваших работ", "Скиньте чек-лист", "send me your price list"]
)
def test_requests_for_information_are_questions(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "Как можно быстрее",
        "Как получится",
        "Когда-нибудь потом",
        "Что-то около 100 тысяч",
        "Can't say yet",
        "Don't know yet",
    ],
)
def test_answers_that_begin_with_a_question_word_are_answers(text: str) -> None:
    """At "when do you want to start?" these are the answer, not a question to the base."""
    assert not looks_like_question(text)


# --- a question pending -----------------------------------------------------------------


def test_question_at_a_buttons_question_is_answered_and_the_question_asked_again(
    kb: Funnel,
) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    first = walk(Text("How much does a machine cost?"))
    assert first.messages == [] and first.state.step == "q_need"
    out = look(walk)
    assert walk.texts() == ["Machine X costs 1000 EUR, Ann.", "What do you need?"]
    assert buttons(out) == ["Buy now", "Just looking"]
    assert out.state.step == "q_need" and out.state.waiting == "answer"
    logged = next(log for log in out.logs if log.type == EventType.QUESTION)
    assert logged.payload["entry"] == "price" and logged.payload["path"] == "offline"
    assert logged.payload["length"] == len("How much does a machine cost?")
    assert "text" not in logged.payload
    after = walk(walk.button("Buy now"))
    assert after.state.answers == {"need": "buy"}


def test_question_at_a_free_text_question_keeps_its_timeout(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    asked = walk(walk.button("Big"))
    token = asked.state.timer
    due = walk.schedule().due
    out = ask(walk, "а сколько стоит?")
    assert walk.texts() == ["Machine X costs 1000 EUR, Ann.", "Tell us about your office."]
    assert timers(out) == [] and out.state.timer == token
    assert "about" not in out.state.answers
    answered = walk(Text("A big office, and how soon can you deliver a machine to it?" * 3))
    assert answered.state.answers["about"].startswith("A big office")  # long: an answer
    walk.now = due
    assert walk(TimerFired(token)).logs[0].type == "timer_ignored"  # the answer ended it


def test_statement_at_a_free_text_question_is_the_answer(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    out = walk(Text("We are an office of 40 people"))
    assert out.state.answers["about"] == "We are an office of 40 people"
    assert not any(isinstance(a, AskKnowledge) for a in out.actions)


def test_unknown_question_is_admitted_and_a_manager_offered(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    out = ask(walk, "Do you accept bitcoin?")
    assert walk.texts()[0].startswith(UNKNOWN) and walk.texts()[1] == "What do you need?"
    assert buttons(out, 0) == ["Connect a manager"]
    assert next(log for log in out.logs if log.type == EventType.QUESTION).payload["entry"] is None
    handed = walk(walk.button("Connect a manager"))
    assert handed.state.status == "handed_off"
    assert [a.reason for a in alerts(handed)] == ["handoff"]


def test_a_statement_the_base_does_not_know_is_not_confessed(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    out = ask(walk, "purple elephants")
    assert walk.texts() == ["Please use the buttons.", "What do you need?"]
    assert out.state.step == "q_need"


@pytest.mark.parametrize(
    "text", ["позовите менеджера", "дайте контакт менеджера", "call a manager"]
)
def test_request_for_a_person_hands_off_at_once(kb: Funnel, text: str) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    out = walk(Text(text))
    assert out.state.status == "handed_off" and out.state.waiting == "manager"
    assert alerts(out) == [Alert("handoff", "q_need", note=text)]
    assert walk.texts() == ["Of course — I'm passing your message to a manager now."]
    released = walk(Release(by="anna"))
    assert released.messages[-1].text == "What do you need?"  # back where it was


def test_question_at_the_contact_step_asks_for_the_contact_again(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    walk(Text("A big office"))
    out = ask(walk, "когда доставите?")
    assert walk.texts() == ["We deliver in 3 working days.", "Leave your phone?"]
    assert out.messages[0].document == "assets/guide.pdf"
    assert out.messages[1].contact_button and out.state.waiting == "contact"


def test_entry_with_buttons_and_handoff(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    out = ask(walk, "договор с ИП заключаете?")
    assert buttons(out, 0) == ["Show the offer"]
    shown = walk(walk.button("Show the offer"))
    assert shown.messages[0].text == "Machine X for Ann" and shown.state.step == "hot-2"
    walk2 = Walk(kb)
    walk2(Start(first_name="Ann"))
    visit = ask(walk2, "можно приехать посмотреть кофемашину?")
    assert visit.messages[0].text == "Sure — a manager will arrange a visit."
    assert visit.state.status == "handed_off" and [a.reason for a in alerts(visit)] == ["handoff"]


# --- a wait running, a button to a wait -----------------------------------------------


def to_hot_wait(kb: Funnel) -> Walk:
    walk = Walk(kb)
    interview_to_classify(walk)
    walk.classify("hot")
    walk(walk.button("Not now"))
    return walk


def test_question_during_a_wait_keeps_the_wait(kb: Funnel) -> None:
    walk = to_hot_wait(kb)
    pressed = walk(walk.button("Remind me tomorrow"))
    assert walk.texts() == ["Got it 👍"]  # the press is acknowledged
    scheduled = walk.schedule()
    out = ask(walk, "How long does delivery take?")
    assert walk.texts() == ["We deliver in 3 working days."]
    assert timers(out) == [] and out.state.timer == pressed.state.timer
    assert out.state.step == "hot_wait" and out.state.waiting == "timer"
    walk.now = scheduled.due
    fired = walk(TimerFired(scheduled.token))
    assert fired.messages[0].text == "Bye!"  # the wait ran out at its own time


def test_noise_during_a_wait_is_thanked_not_pointed_at_buttons(kb: Funnel) -> None:
    walk = to_hot_wait(kb)
    walk(walk.button("Remind me tomorrow"))
    out = walk(Text("спасибо!"))
    assert walk.texts() == ["Thank you! If you have questions, just write here."]
    assert timers(out) == []


# --- after the end ------------------------------------------------------------------------


def ended(funnel: Funnel) -> Walk:
    walk = Walk(funnel)
    interview_to_classify(walk)
    walk.classify("nope")
    assert walk.out.state.status == "completed"
    return walk


def test_after_the_end_a_question_is_answered_and_the_lead_stays_completed(kb: Funnel) -> None:
    walk = ended(kb)
    out = ask(walk, "What is the price?")
    assert walk.texts() == ["Machine X costs 1000 EUR, Ann."]
    assert out.state.status == "completed"


def test_after_the_end_a_message_gets_finished_not_unknown(kb: Funnel, mini: Funnel) -> None:
    for funnel in (kb, mini):
        walk = ended(funnel)
        walk(Text("hello, anyone?"))
        if walk.engine.funnel.scenario.knowledge:
            look(walk)
            assert walk.texts()[0].startswith(UNKNOWN)
        else:
            assert walk.texts() == ["Thank you! If you have questions, just write here."]
        walk(Text("ok"))
        assert walk.texts() == ["Thank you! If you have questions, just write here."]


# --- with managers ------------------------------------------------------------------------


def test_messages_reach_managers_and_the_prospect_hears_handed_off_once(kb: Funnel) -> None:
    walk = Walk(kb)
    interview_to_classify(walk)
    walk.classify("nope")
    taken = replace(
        walk.state, status=LeadStatus.HANDED_OFF
    )  # a manager took the lead (service.take)
    walk.state = taken
    first = walk(Text("hello?"))
    assert walk.texts() == ["A manager will write to you shortly."]
    assert alerts(first) == [Alert("message", first.state.step, note="hello?")]
    second = walk(Text("what is the price?"))
    assert second.messages == [] and alerts(second)[0].note == "what is the price?"
    assert not any(isinstance(a, AskKnowledge) for a in second.actions)
    walk(Release(by="anna"))
    walk.state = replace(walk.state, status=LeadStatus.HANDED_OFF)
    assert walk(Text("again")).messages  # told again after a new hand-over


# --- a broadcast follow-up ---------------------------------------------------------------


def test_question_after_a_broadcast_is_answered_and_follow_ups_keep_their_times(
    kb: Funnel,
) -> None:
    walk = to_hot_wait(kb)
    pressed = walk(walk.button("Remind me tomorrow"))
    walk(Broadcast(7, message=MessageStep(message="Spring sale: -10%")))
    out = ask(walk, "сколько стоит кофемашина?")
    assert walk.texts() == ["Machine X costs 1000 EUR, Ann."]
    assert timers(out) == [] and out.state.timer == pressed.state.timer
    done = ended(kb)
    done(Broadcast(8, message=MessageStep(message="News")))
    ask(done, "how much does a machine cost?")
    assert done.texts() == ["Machine X costs 1000 EUR, Ann."]
    assert done.out.state.status == "completed"


# --- cut messages ---------------------------------------------------------------------------


def test_a_cut_message_is_told(kb: Funnel) -> None:
    walk = Walk(kb)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    out = walk(Text("We are an office. " * 200))
    assert walk.texts()[0] == "That is a long message; I kept the beginning of it."
    assert out.state.answers["about"].startswith("We are an office.")


def test_a_stale_pick_is_only_logged(kb: Funnel) -> None:
    walk = ended(kb)
    out = walk(Looked(entry="no_such_entry", path="offline", asked=False))
    assert walk.texts() == ["Thank you! If you have questions, just write here."]
    assert out.logs[0].type == EventType.QUESTION


def test_without_a_knowledge_base_free_text_is_the_answer(mini: Funnel) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    out = walk(Text("how about a machine for 40 people?"))
    assert out.state.answers["about"] == "how about a machine for 40 people?"
    asked = walk(Text("what do you need my phone for?"))
    assert asked.messages  # the contact step answers (never silence)
    handed = walk(Text("call a manager"))
    assert handed.state.status == "handed_off"


def test_a_question_while_an_answer_is_being_typed_keeps_the_draft(tmp_path: Path) -> None:
    text = (DATA / "kb.yaml").read_text(encoding="utf-8").replace("debounce: 0s", "debounce: 20s")
    (tmp_path / "kb.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(DATA / "assets", tmp_path / "assets")
    walk = Walk(load_funnel(tmp_path / "kb.yaml", "Europe/Moscow"))
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    typing = walk(Text("We are an office of 40"))
    pause = walk.schedule()
    out = ask(walk, "а сколько стоит?")
    assert walk.texts() == ["Machine X costs 1000 EUR, Ann."]  # no re-ask mid-typing
    assert out.state.draft == "We are an office of 40" and out.state.timer == typing.state.timer
    walk.now = pause.due
    done = walk(TimerFired(pause.token))
    assert done.state.answers["about"] == "We are an office of 40"
