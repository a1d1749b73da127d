"""Words, stems and keywords: word forms meet, substrings inside other words do not."""

from __future__ import annotations

import sys

import pytest

from bot.nlu import fold, keyword_hits, stems, tokens
from bot.nlu.text import stem


def test_fold_treats_yo_as_ye_and_ignores_case() -> None:
    assert fold("ЁЛКА Счёт") == "елка счет"


def test_tokens_keep_hyphenated_and_apostrophe_words() -> None:
    words = tokens("Чат-бот, I'm ready — 150 заявок!")
    assert words == ["чат-бот", "i'm", "ready", "150", "заявок"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("договор", "договора"),
        ("договоры", "договору"),
        ("готовы", "готова"),
        ("заявки", "заявку"),
        ("созвонимся", "созвониться"),
        ("бесплатно", "бесплатный"),
        ("студент", "студенты"),
        ("Счёт", "счет"),
        ("comparing", "compare"),
        ("students", "student"),
        ("invoices", "invoice"),
    ],
)
def test_word_forms_share_a_stem(a: str, b: str) -> None:
    assert stems(a) == stems(b), (stems(a), stems(b))


def test_stems_drop_stop_words_in_both_languages() -> None:
    assert stems("Я и мы хотим на этой неделе") == stems("хотим неделе")
    assert stems("We are the ones who compare") == stems("ones compare")
    assert stems("не нужен")[0] == "не"  # a negation carries meaning


def test_mixed_language_text_is_stemmed_word_by_word() -> None:
    assert stems("Сравниваем Salebot и ManyChat builders") == [
        "сравнива",
        "salebot",
        "manychat",
        "builder",
    ]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("договор", "пришлите договора на подпись"),
        ("договора", "нужен договор"),
        ("готов заказать", "мы готовы заказать бота"),
        ("сравн", "сравниваем подрядчиков"),
        ("выставьте счёт", "Выставьте счет на ООО"),
        ("student", "We are students"),
        ("send an invoice", "please send an invoice"),
    ],
)
def test_keywords_match_word_forms(keyword: str, text: str) -> None:
    assert keyword_hits([keyword], text) == [keyword]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("смет", "магазин косметики"),  # was a substring hit
        ("try", "a country house"),
        ("готов заказать", "заказать готовы"),  # a phrase is its words in a row
        ("student", "studio"),
    ],
)
def test_keywords_do_not_fire_inside_other_words(keyword: str, text: str) -> None:
    assert keyword_hits([keyword], text) == []


def test_the_stemmers_are_pystemmers_c_build() -> None:
    """Not snowballstemmer's pure-Python fallback, which imports 34 languages (~2 MB more
    of every bot process) and stems several times slower; the stems are the same."""
    assert "snowballstemmer.russian_stemmer" not in sys.modules
    assert stem("договора") == "договор" and stem("running") == "run"
