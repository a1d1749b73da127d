"""Every kind of off-script message at every kind of step, in one table.

Kinds: a question the base knows, one it does not, a request for a person, noise. Places: a
buttons question pending, a free-text question pending, a wait running, after the end, after
a broadcast. Whatever the pair, the prospect hears something (never silence, never "use the
buttons" where there are none) and the funnel stays where it was, its timers untouched,
except that a person asked for takes the lead over.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.engine.types import AskKnowledge, Broadcast, CancelTimers, Release, Start, Text
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.scenario.model import MessageStep
from bot.vocabulary import LeadStatus
from tests.conftest import DATA
from tests.unit.test_engine import Walk
from tests.unit.test_engine_offscript import (
    UNKNOWN,
    alerts,
    buttons,
    ended,
    kb,
    look,
    timers,
    to_hot_wait,
)

__all__ = ["kb"]  # the fixture, imported for pytest

ANSWER = "Machine X costs 1000 EUR, Ann."
FINISHED = "Thank you! If you have questions, just write here."


def at_buttons_question(funnel: Funnel) -> Walk:
    walk = Walk(funnel)
    walk(Start(first_name="Ann"))
    return walk


def at_free_text_question(funnel: Funnel) -> Walk:
    walk = at_buttons_question(funnel)
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    return walk


def during_a_wait(funnel: Funnel) -> Walk:
    walk = to_hot_wait(funnel)
    walk(walk.button("Remind me tomorrow"))
    return walk


def after_a_broadcast(funnel: Funnel) -> Walk:
    walk = during_a_wait(funnel)
    walk(Broadcast(7, message=MessageStep(message="Spring sale: -10%")))
    return walk


PLACES: dict[str, tuple[Callable[[Funnel], Walk], list[str]]] = {
    # place: (how to get there, what asking again there says; [] when nothing is pending)
    "buttons question": (at_buttons_question, ["What do you need?"]),
    "free-text question": (at_free_text_question, ["Tell us about your office."]),
    "wait running": (during_a_wait, []),
    "ended": (ended, []),
    "broadcast follow-up": (after_a_broadcast, []),
}


def place(funnel: Funnel, name: str) -> tuple[Walk, list[str]]:
    get_there, reask = PLACES[name]
    return get_there(funnel), reask


def same_place(before: Walk, after: Walk) -> None:
    b, a = before.state, after.state
    assert (a.step, a.waiting, a.status, a.timer, a.answers) == (
        b.step,
        b.waiting,
        b.status,
        b.timer,
        b.answers,
    )
    assert timers(after.out) == []


@pytest.mark.parametrize("where", list(PLACES))
def test_a_known_question_is_answered_and_the_funnel_resumes(kb: Funnel, where: str) -> None:
    walk, reask = place(kb, where)
    before = Walk(kb)
    before.state = walk.state
    walk(Text("сколько стоит кофемашина?"))
    look(walk)
    assert walk.texts() == [ANSWER, *reask]
    same_place(before, walk)


@pytest.mark.parametrize("where", list(PLACES))
def test_an_unknown_question_is_admitted_with_a_manager_offered(kb: Funnel, where: str) -> None:
    walk, reask = place(kb, where)
    before = Walk(kb)
    before.state = walk.state
    walk(Text("Do you accept bitcoin?"))
    out = look(walk)
    assert walk.texts()[0].startswith(UNKNOWN) and walk.texts()[1:] == reask
    assert buttons(out, 0) == ["Connect a manager"]
    same_place(before, walk)


@pytest.mark.parametrize("where", list(PLACES))
def test_a_request_for_a_person_hands_over_and_release_resumes(kb: Funnel, where: str) -> None:
    walk, reask = place(kb, where)
    step, status, timer = walk.state.step, walk.state.status, walk.state.timer
    out = walk(Text("позовите менеджера"))
    assert not any(isinstance(a, AskKnowledge) for a in out.actions)
    assert out.state.status == LeadStatus.HANDED_OFF and out.state.step == step
    assert [(a.reason, a.note) for a in alerts(out)] == [("handoff", "позовите менеджера")]
    assert walk.texts() == ["Of course — I'm passing your message to a manager now."]
    cancelled = any(isinstance(a, CancelTimers) for a in out.actions)
    assert cancelled == bool(timer)  # no touches over a manager's head
    released = walk(Release(by="anna"))
    if status == LeadStatus.ACTIVE and reask:
        assert released.messages[-1].text == reask[0]  # back where it was


@pytest.mark.parametrize("where", list(PLACES))
def test_noise_is_acknowledged_without_a_look_up(kb: Funnel, where: str) -> None:
    walk, reask = place(kb, where)
    before = Walk(kb)
    before.state = walk.state
    out = walk(Text("спасибо!"))
    assert not any(isinstance(a, AskKnowledge) for a in out.actions)
    if where == "buttons question":
        assert walk.texts() == ["Please use the buttons."]
    elif where == "free-text question":
        assert walk.texts() == reask  # no buttons to point at: the question again
    else:
        assert walk.texts() == [FINISHED]
    same_place(before, walk)


@pytest.mark.parametrize(
    "text", ["сколько стоит кофемашина?", "Do you accept bitcoin?", "позовите менеджера", "ок"]
)
def test_with_a_manager_every_message_is_forwarded(kb: Funnel, text: str) -> None:
    walk = during_a_wait(kb)
    walk(Text("позовите менеджера"))
    out = walk(Text(text))
    assert not any(isinstance(a, AskKnowledge) for a in out.actions)
    assert [(a.reason, a.note) for a in alerts(out)] == [("message", text)]
    assert walk.texts() == ["A manager will write to you shortly."]
    assert out.state.status == LeadStatus.HANDED_OFF


def test_noise_while_an_answer_is_being_typed_joins_the_answer(tmp_path: Path) -> None:
    text = (DATA / "kb.yaml").read_text(encoding="utf-8").replace("debounce: 0s", "debounce: 20s")
    (tmp_path / "kb.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(DATA / "assets", tmp_path / "assets")
    walk = at_free_text_question(load_funnel(tmp_path / "kb.yaml", "Europe/Moscow"))
    walk(Text("We are an office of 40"))
    out = walk(Text("ок"))
    assert not any(isinstance(a, AskKnowledge) for a in out.actions)
    assert out.state.draft.startswith("We are an office of 40") and "ок" in out.state.draft
