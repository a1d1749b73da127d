"""Quiet hours: touches are held until the sending window opens; replies never are."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.engine.quiet import hold, inside
from bot.engine.types import Start, Text
from bot.scenario.funnel import Funnel
from bot.scenario.loader import parse_funnel
from tests.unit.test_engine import Walk, interview_to_classify

MSK = ZoneInfo("Europe/Moscow")


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=MSK)


def test_window_in_a_day() -> None:
    start, end = time(9), time(21)
    assert inside(at(9), start, end, MSK) and not inside(at(21), start, end, MSK)
    assert hold(at(12), start, end, MSK) == at(12)
    assert hold(at(22, 30), start, end, MSK) == at(9, day=3)
    assert hold(at(3), start, end, MSK) == at(9)


def test_window_across_midnight() -> None:
    start, end = time(20), time(2)
    assert inside(at(23), start, end, MSK) and inside(at(1), start, end, MSK)
    assert hold(at(12), start, end, MSK) == at(20)


def windowed(funnel: Funnel, tmp_path: Path) -> Funnel:
    text = funnel.path.read_text().replace(
        "texts:\n", 'sending_window: {start: "09:00", end: "21:00"}\ntexts:\n', 1
    )
    copy = tmp_path / "mini.yaml"
    copy.write_text(text)
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "guide.pdf").write_bytes(b"%PDF-1.4\n")
    return parse_funnel(text, copy, "Europe/Moscow")


def test_touch_due_at_night_is_held_but_replies_are_not(mini: Funnel, tmp_path: Path) -> None:
    evening = datetime(2026, 3, 2, 19, 30, tzinfo=MSK).astimezone(UTC)  # 2h wait -> 21:30
    walk = Walk(windowed(mini, tmp_path), now=evening)
    interview_to_classify(walk)
    assert walk.out.messages, "replies at night still go out at once"
    walk.classify("hot")
    assert walk.schedule().due == at(9, day=3).astimezone(UTC)
    assert "touch_held" in walk.types()
    walk.now = datetime(2026, 3, 2, 23, 0, tzinfo=MSK).astimezone(UTC)
    out = walk(Text("are you there?"))  # a night-time reply is answered now
    assert out.messages and out.state.status == "handed_off"


def test_start_at_night_is_answered(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(windowed(mini, tmp_path), now=at(3).astimezone(UTC) + timedelta(minutes=1))
    out = walk(Start(first_name="Ann"))
    assert [m.text for m in out.messages] == ["Hello, Ann!", "What do you need?"]
