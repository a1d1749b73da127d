"""The phrase index: nearest labels for a text, why, and the same answer every time."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.nlu import Match, PhraseIndex

PHRASES = {
    "price": ["Сколько стоит бот под ключ?", "How much does it cost?", "Какая цена?"],
    "contract": ["Работаете по договору с ИП?", "Do you sign a contract?"],
    "human": ["Дайте контакт менеджера", "I want to talk to a person"],
}


@pytest.fixture(scope="module")
def index() -> PhraseIndex:
    return PhraseIndex.fit(PHRASES)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("а по стоимости во сколько выйдет?", "price"),
        ("с ИП договор заключаете?", "contract"),
        ("договора у вас какие?", "contract"),
        ("what's the cost of it", "price"),
        ("can I talk to a manager", "human"),
        ("контакты менеджера дайте", "human"),
    ],
)
def test_word_forms_find_their_label(index: PhraseIndex, text: str, label: str) -> None:
    assert index.rank(text)[0].label == label


def test_a_match_says_why(index: PhraseIndex) -> None:
    best = index.rank("Пришлите договоры, работаете с ИП?")[0]
    assert best.label == "contract"
    assert best.phrase == "Работаете по договору с ИП?"
    assert "договор" in best.terms and "ип" in best.terms
    assert 0 < best.score <= best.phrase_score <= 1


def test_ranking_covers_every_label_best_first(index: PhraseIndex) -> None:
    ranked = index.rank("сколько стоит")
    assert ranked[0].label == "price"
    assert sorted(m.label for m in ranked) == sorted(PHRASES)
    assert [m.score for m in ranked] == sorted((m.score for m in ranked), reverse=True)


def test_unrelated_text_scores_zero(index: PhraseIndex) -> None:
    assert all(m.score == 0 and m.terms == () for m in index.rank("погода в Казани"))
    assert all(m.score == 0 for m in index.rank(""))


def test_a_typo_still_lands_through_character_ngrams(index: PhraseIndex) -> None:
    assert index.rank("менеджера контакт дайтe пожалуста")[0].label == "human"
    assert index.rank("сколко стоимость")[0].label == "price"


def test_labels_without_phrases_are_left_out() -> None:
    index = PhraseIndex.fit({"a": ["one phrase"], "b": []})
    assert index.labels == ["a"]
    assert PhraseIndex.fit({}).rank("anything") == []


def test_ties_keep_the_fitting_order() -> None:
    index = PhraseIndex.fit({"first": ["same words"], "second": ["same words"]})
    assert [m.label for m in index.rank("same words")] == ["first", "second"]


def test_results_are_identical_across_processes(index: PhraseIndex) -> None:
    """No set or hash order leaks into the scores (string hashing differs per process)."""
    code = (
        "from bot.nlu import PhraseIndex;"
        f"print(PhraseIndex.fit({PHRASES!r}).rank('договор и цена, менеджер'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert repr(index.rank("договор и цена, менеджер")) + "\n" in outputs


def test_match_is_a_plain_value() -> None:
    match = Match("a", 0.5, ("x",), "phrase", 0.7)
    assert match == Match("a", 0.5, ("x",), "phrase", 0.7)


def test_a_negation_stays_with_its_word() -> None:
    index = PhraseIndex.fit({"ready": ["мы готовы купить"], "later": ["мы не готовы покупать"]})
    assert index.rank("пока не готовы")[0].label == "later"
    assert "не_готов" in index.rank("пока не готовы")[0].terms
