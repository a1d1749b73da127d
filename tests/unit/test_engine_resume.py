"""Work lost to a crash (a classification, a knowledge look-up) is asked for again: by the
resume touch, by /start, by any message."""

from __future__ import annotations

from pathlib import Path

from bot.engine.types import (
    AskKnowledge,
    ClassifyRequest,
    Looked,
    Resume,
    Start,
    Text,
)
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.vocabulary import Waiting
from tests.unit.test_engine import Walk, interview_to_classify


def asks_to_classify(walk: Walk) -> bool:
    return any(isinstance(a, ClassifyRequest) for a in walk.out.actions)


def test_a_lost_classification_is_asked_for_again(mini: Funnel) -> None:
    walk = Walk(mini)
    interview_to_classify(walk)
    assert walk.state.waiting == Waiting.CLASSIFY  # the process dies here
    walk(Resume())
    assert asks_to_classify(walk) and walk.texts() == []
    walk(Start(source=None))
    assert asks_to_classify(walk)  # "welcome back", and the work goes on
    walk(Text("ok"))
    assert asks_to_classify(walk)
    walk.classify("hot")
    assert walk.texts() == ["Machine X for Ann"]
    walk(Resume())
    assert not asks_to_classify(walk)  # nothing left to resume


def test_a_lost_knowledge_look_up_is_asked_for_again(demo_path: Path) -> None:
    walk = Walk(load_funnel(demo_path, "Europe/Moscow"))
    walk(Start(source=None, first_name="Ann"))
    walk(Text("Сколько стоит подключение и есть ли гарантия?"))
    asked = [a for a in walk.out.actions if isinstance(a, AskKnowledge)]
    assert asked and walk.state.asking == asked[0].text
    walk(Resume())
    again = [a for a in walk.out.actions if isinstance(a, AskKnowledge)]
    assert [a.text for a in again] == [asked[0].text]
    walk(Looked(entry=None, path="offline", confidence=0, asked=True))
    assert walk.state.asking == ""
    walk(Resume())
    assert not any(isinstance(a, AskKnowledge) for a in walk.out.actions)
