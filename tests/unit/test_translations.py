"""One funnel in several languages: sibling files checked to be the same funnel in other words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.engine import Engine
from bot.engine.types import JoinRequest, LeadState, Send, Start
from bot.reload import Reloader
from bot.scenario.loader import ScenarioError, load_funnel
from bot.scenario.model import QuestionStep
from bot.scenario.translations import language_of
from bot.service import ScenarioHolder, utcnow

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DEMO = SCENARIOS / "demo.yaml"


def test_the_demo_is_one_funnel_in_russian_and_english() -> None:
    funnel = load_funnel(DEMO)
    assert funnel.scenario.language == "ru"
    english = funnel.translations["en"]
    assert english.scenario.language == "en"
    assert funnel.for_language("en-US") is english
    assert funnel.for_language("ru") is funnel
    assert funnel.for_language("uk") is funnel  # no Ukrainian file: the main language
    assert funnel.for_language(None) is funnel
    assert english.chains == funnel.chains


def test_language_codes_are_read_by_their_primary_part() -> None:
    codes = ("en-GB", "pt_BR", "RU", "", None)
    assert [language_of(c) for c in codes] == ["en", "pt", "ru", "", ""]


def test_start_speaks_the_prospects_language() -> None:
    engine = Engine(load_funnel(DEMO))
    russian = engine.handle(LeadState(), Start(language="ru"), utcnow())
    english = engine.handle(LeadState(), Start(language="en"), utcnow())
    first_ru = next(a for a in russian.actions if isinstance(a, Send)).message.text
    first_en = next(a for a in english.actions if isinstance(a, Send)).message.text
    assert "Тёплый лид" in first_ru and "Warm Lead" in first_en
    assert english.state.language == "en"
    # A lead once started in English stays in English without a language on later inputs.
    assert english.state.step == russian.state.step


def _pair(tmp_path: Path, main_extra: str, sibling_edit: tuple[str, str] | None) -> Path:
    main = DEMO.read_text(encoding="utf-8")
    english = (SCENARIOS / "demo.en.yaml").read_text(encoding="utf-8")
    if sibling_edit:
        assert sibling_edit[0] in english
        english = english.replace(sibling_edit[0], sibling_edit[1], 1)
    (tmp_path / "demo.en.yaml").write_text(english, encoding="utf-8")
    if not (tmp_path / "assets").exists():
        (tmp_path / "assets").symlink_to(SCENARIOS / "assets")
    path = tmp_path / "demo.yaml"
    path.write_text(main.replace("translations: {en: demo.en.yaml}", main_extra), encoding="utf-8")
    return path


def _problems(path: Path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_funnel(path)
    return str(caught.value)


def test_a_translation_must_be_the_same_funnel(tmp_path: Path) -> None:
    english = (SCENARIOS / "demo.en.yaml").read_text(encoding="utf-8")
    price = next(line for line in english.splitlines() if line.strip().startswith("price:"))
    path = _pair(tmp_path, "translations: {en: demo.en.yaml}", (price, price + "1"))
    problems = _problems(path)
    assert "demo.en.yaml:" in problems and ".price: is " in problems
    assert "only words may differ" in problems


def test_a_translation_lacking_a_text_is_named(tmp_path: Path) -> None:
    english = (SCENARIOS / "demo.en.yaml").read_text(encoding="utf-8")
    thanks = next(line for line in english.splitlines() if line.strip().startswith("thanks:"))
    path = _pair(tmp_path, "translations: {en: demo.en.yaml}", (thanks + "\n", "\n"))
    assert "given in ru but missing in en" in _problems(path)


def test_a_translation_in_the_wrong_language_or_missing(tmp_path: Path) -> None:
    path = _pair(tmp_path, "translations: {ru: demo.en.yaml}", None)
    assert "ru is the language of this file itself" in _problems(path)
    path = _pair(tmp_path, "translations: {en: nowhere.yaml}", None)
    assert "nowhere.yaml:1 file not found" in _problems(path)


async def test_a_live_reload_sees_an_edit_of_a_translation_only(tmp_path: Path) -> None:
    path = _pair(tmp_path, "translations: {en: demo.en.yaml}", None)
    holder = ScenarioHolder(load_funnel(path))
    reloader = Reloader(holder, path, "Europe/Moscow")
    assert not (await reloader.reload()).changed  # the same files: nothing to do
    english = tmp_path / "demo.en.yaml"
    text = english.read_text(encoding="utf-8")
    english.write_text(text.replace("What does your business do?", "What is your business?"))
    result = await reloader.reload()
    assert result.changed and result.ok
    step = holder.funnel.translations["en"].steps["q_niche"].step
    assert isinstance(step, QuestionStep) and "What is your business?" in step.question


def test_a_join_request_speaks_the_requesters_language() -> None:
    engine = Engine(load_funnel(DEMO))
    joined = engine.handle(LeadState(), JoinRequest("-1001", language="en"), utcnow())
    first = next(a for a in joined.actions if isinstance(a, Send)).message.text
    assert "Warm Lead" in first and joined.state.language == "en"
