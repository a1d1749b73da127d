"""Contacts as prospects really type them, and built-in texts in the scenario's language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.text import contact_problem, normalize_email, normalize_phone
from bot.engine.types import Start, Text
from bot.scenario.default_texts import BUILT_IN, LANGUAGES, detect_language
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel, summary
from bot.scenario.model import Texts
from tests.conftest import MINI
from tests.unit.test_engine import Walk
from tests.unit.test_scenario_validation import BASE, write


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("мой телефон 8 912 345 67 89", "+79123456789"),
        ("+7 (912) 345-67-89, звоните после 18", "+79123456789"),
        ("89123456789", "+79123456789"),
        ("79991234567", "+79991234567"),  # as Telegram's contact button sends it
        ("+44 20 7946 0958", "+442079460958"),
        ("8 (912) 345-67-8", None),
        ("мне 25 лет, бюджет 100000", None),
        ("not a phone", None),
    ],
)
def test_phones_inside_sentences(typed: str, phone: str | None) -> None:
    assert normalize_phone(typed, "ru") == phone


def test_phone_region_follows_the_language() -> None:
    assert normalize_phone("(415) 555-2671", "en") == "+14155552671"
    assert normalize_phone("+7 912 345 67 89", "en") == "+79123456789"
    assert normalize_phone("8 912 345 67 89", "en") == "+79123456789"  # other regions next


@pytest.mark.parametrize(
    ("typed", "email"),
    [
        ("вася@почта.рф", "вася@почта.рф"),
        ("Ann@Example.COM", "ann@example.com"),
        ("пишите на ann@example.com, спасибо", "ann@example.com"),
        ("ann@example", None),
        ("ann@@example.com", None),
        ("a@b.com или c@d.com", None),  # two addresses: ask which
    ],
)
def test_emails_including_internationalised(typed: str, email: str | None) -> None:
    assert normalize_email(typed) == email


def test_a_malformed_phone_gets_the_phone_text_not_the_email_one() -> None:
    texts = Texts()
    assert contact_problem("8 912 345", "phone", texts) == texts.phone_invalid
    assert contact_problem("8 912 345", "phone_or_email", texts) == texts.phone_invalid
    assert contact_problem("ann@exa", "phone_or_email", texts) == texts.email_invalid
    assert contact_problem("8 912", "email", texts) == texts.email_invalid
    assert texts.phone_invalid != texts.email_invalid


def to_contact_step(funnel: Funnel) -> Walk:
    walk = Walk(funnel)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    walk(Text("office"))
    assert walk.state.waiting == "contact"
    return walk


def test_engine_reads_a_phone_in_a_sentence_and_answers_a_bad_one(mini: Funnel) -> None:
    walk = to_contact_step(mini)
    walk(Text("8 912 345"))
    assert walk.types() == ["contact_invalid"]
    assert walk.texts() == [mini.scenario.texts.phone_invalid]
    walk(Text("мой телефон 8 912 345 67 89"))
    assert walk.state.phone == "+79123456789"
    assert "contact_shared" in walk.types()


def test_every_text_has_a_built_in_version_in_every_language() -> None:
    for language in LANGUAGES:
        built_in = BUILT_IN.get(language)
        if built_in is not None:
            assert set(built_in) == set(Texts.model_fields), language


def test_language_is_detected_from_the_business_and_texts() -> None:
    assert detect_language(["Курсы английского для взрослых", "Спасибо!"]) == "ru"
    assert detect_language(["Coffee machines for offices", None]) == "en"


def russian(tmp_path: Path, extra: str = "") -> Funnel:
    text = BASE.replace(
        "business: We sell coffee machines to offices.", "business: Кофемашины для офисов."
    ).replace("texts:\n  unknown: Please use the buttons.\n  skip_button: Skip\n", extra)
    return load_funnel(write(tmp_path, text))


def test_a_russian_scenario_without_texts_speaks_russian(tmp_path: Path) -> None:
    funnel = russian(tmp_path)
    assert funnel.scenario.language == "ru"
    assert funnel.scenario.texts.unknown == BUILT_IN["ru"]["unknown"]
    assert funnel.scenario.texts.skip_button == "Не сейчас"
    walk = to_contact_step(funnel)
    walk(Text("что-то не то"))
    assert walk.texts() == [BUILT_IN["ru"]["phone_invalid"]]  # ask: phone → the phone text


def test_the_language_field_wins_and_validate_lists_defaults(tmp_path: Path) -> None:
    funnel = russian(tmp_path, "language: en\ntexts:\n  help: Помощь\n")
    assert funnel.scenario.language == "en"
    assert funnel.scenario.texts.unknown == Texts().unknown
    lines = summary(funnel)
    assert lines[0].endswith("language en)")
    assert lines[1].startswith("built-in texts in use (en): stop, restart, unknown")
    assert "help" not in lines[1].split(": ", 1)[1].split(", ")


def test_mini_keeps_its_english(mini: Funnel) -> None:
    assert mini.scenario.language == "en" and load_funnel(MINI).scenario.texts.skip_button == "Skip"
