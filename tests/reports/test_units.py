"""The small pieces: period words, the spend file, event descriptions, formula defusing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.reports.describe import describe
from bot.reports.periods import idle
from bot.reports.spend import Spend, SpendError, load_spend
from bot.reports.writers import defuse
from bot.time_phrases import PeriodError, parse_moment

NOW = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 00:30 on the 11th in Moscow
MSK = ZoneInfo("Europe/Moscow")


def test_period_words() -> None:
    assert parse_moment("7d", NOW, MSK) == NOW - timedelta(days=7)
    assert parse_moment("12h", NOW, MSK, end=True) == NOW - timedelta(hours=12)
    assert parse_moment("2w", NOW, MSK) == NOW - timedelta(weeks=2)
    assert parse_moment("2026-03-01", NOW, MSK) == datetime(2026, 2, 28, 21, 0, tzinfo=UTC)
    # an end date includes that whole (Moscow) day
    assert parse_moment("2026-03-01", NOW, MSK, end=True) == datetime(2026, 3, 1, 21, tzinfo=UTC)
    assert parse_moment("today", NOW, MSK) == datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
    assert parse_moment("yesterday", NOW, MSK) == datetime(2026, 3, 9, 21, 0, tzinfo=UTC)
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        parse_moment("last week", NOW, MSK)
    with pytest.raises(PeriodError):
        parse_moment("2026-02-30", NOW, MSK)


def test_idle_is_rough_and_readable() -> None:
    assert idle(timedelta(days=3, hours=4, minutes=5)) == "3d 4h"
    assert idle(timedelta(hours=5, minutes=10)) == "5h 10m"
    assert idle(timedelta(seconds=30)) == "0m"


def test_spend_csv_as_excel_saves_it(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(
        "\ufeffSource;Amount;Currency\nvk_ads;15 000,50;rub\n(none);0;RUB\n;;\nvk_ads;500;RUB\n",
        encoding="utf-8",
    )
    assert load_spend(path) == {
        "vk_ads": Spend(Decimal("15500.50"), "RUB"),
        "(none)": Spend(Decimal(0), "RUB"),
    }


def test_spend_yaml(tmp_path: Path) -> None:
    path = tmp_path / "spend.yaml"
    path.write_text("vk_ads: 3000\ntg_post: {amount: 99.5, currency: USD}\n")
    assert load_spend(path) == {
        "vk_ads": Spend(Decimal(3000), "RUB"),
        "tg_post": Spend(Decimal("99.5"), "USD"),
    }


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.csv", "where,how much\n", "s.csv:1: the header must name 'source' and 'amount'"),
        ("s.csv", "source,amount\nvk,-5\n", "s.csv:2: '-5' is not an amount of money"),
        ("s.csv", "source,amount,currency\nvk,5,rubles\n", "s.csv:2: 'rubles' is not a currency"),
        ("s.csv", "source,amount,currency\nvk,5,RUB\nvk,5,USD\n", "vk is already spent in RUB"),
        ("s.yaml", "vk: [1, 2\n", "s.yaml:2: not valid YAML"),
        ("s.yaml", "- vk\n", "expected 'source: amount' lines"),
        ("s.yaml", "vk: {currency: RUB}\n", "s.yaml: vk: None is not an amount"),
        ("none.csv", None, "cannot read the spend file"),
    ],
)
def test_spend_file_mistakes_are_one_line(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(SpendError) as caught:
        load_spend(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_event_descriptions() -> None:
    assert describe("started", {"source": "vk_ads"}) == "from vk_ads"
    assert describe("started", {"source": None}) == "no source"
    assert describe("answer_given", {"key": "budget", "value": "big", "via": "button"}) == (
        "budget = “big” (button)"
    )
    assert describe(
        "classified",
        {"segment": "hot", "confidence": 80, "readiness": "ready_to_buy", "reason": "big budget",
         "path": "llm"},
    ) == "→ hot (confidence 80, ready_to_buy, llm): big budget"  # fmt: skip
    assert describe("offer_shown", {"tier": "core", "title": "Bot", "price": "89000",
                                    "currency": "RUB"}) == "core «Bot» 89000 RUB"  # fmt: skip
    assert describe("touch_scheduled", {"due": "2026-03-02T10:00:00+00:00"}, MSK) == (
        "due 2026-03-02 13:00"
    )
    assert describe("replied", {"text": "x" * 200}).endswith("…”")
    assert describe("something_new", {"a": 1, "b": "two"}) == "a=1, b=two"
    assert describe("handed_off", {}) == ""


def test_formula_like_cells_are_defused_but_phones_are_not() -> None:
    assert defuse("=1+2") == "'=1+2"
    assert defuse("@SUM(A1)") == "'@SUM(A1)"
    assert defuse("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert defuse("+7 (999) 123-45-67") == "+7 (999) 123-45-67"
    assert defuse("-5") == "-5"
    assert defuse("hello = world") == "hello = world"
