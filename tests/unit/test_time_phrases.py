"""The one time-phrase grammar: scenario waits and every command option read the same words."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.time_phrases import (
    PeriodError,
    Wait,
    format_span,
    parse_clock,
    parse_local_time,
    parse_moment,
    parse_span,
    parse_wait,
)

NOW = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 00:30 on the 11th in Moscow
MSK = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30s", timedelta(seconds=30)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_a_span_means_the_same_as_a_window_and_as_a_since(text: str, span: timedelta) -> None:
    assert parse_span(text) == span
    assert parse_moment(text, NOW, MSK) == NOW - span  # `--since 30m` as `--window 30m`
    assert parse_moment(text, NOW, MSK, end=True) == NOW - span


def test_waits_and_clock_phrases() -> None:
    assert parse_wait("next day at 10:00") == Wait(at=time(10, 0), days_ahead=1)
    assert parse_wait("in 2 days at 9:30") == Wait(at=time(9, 30), days_ahead=2)
    assert str(parse_wait("1d 12h")) == "1d 12h"
    assert format_span(timedelta(minutes=90)) == "1h 30m"
    assert parse_wait("at 18:30").due(NOW, MSK) == datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
    assert parse_clock("09:05") == time(9, 5)


@pytest.mark.parametrize(
    ("text", "words"),
    [("0m", "zero wait"), ("2 dayz", "is not a duration"), ("at 25:00", "not a time of day")],
)
def test_bad_waits_say_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_wait(text)


def test_span_refuses_a_clock_and_moments_refuse_words() -> None:
    with pytest.raises(PeriodError, match="not a time of day"):
        parse_span("at 10:00")
    with pytest.raises(PeriodError, match="30m"):
        parse_moment("soon", NOW, MSK)
    with pytest.raises(PeriodError, match="should look like"):
        parse_local_time("tomorrow", MSK)
    with pytest.raises(PeriodError, match="not a real date"):
        parse_local_time("2026-02-30 10:00", MSK)
    assert parse_local_time("2026-12-01 10:00", MSK) == datetime(2026, 12, 1, 7, tzinfo=UTC)
