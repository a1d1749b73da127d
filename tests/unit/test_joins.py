"""When a request to join the operator's channel is decided: the engine alone, fixed clock."""

from __future__ import annotations

from pathlib import Path

from bot.engine.engine import Engine
from bot.engine.types import (
    Classified,
    Contact,
    DecideJoin,
    JoinRequest,
    LeadState,
    Outcome,
    Press,
    Text,
)
from bot.scenario.loader import load_funnel
from bot.service import utcnow
from tests.conftest import MINI


def engine_for(tmp_path: Path, approve: str) -> Engine:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "mini.yaml"
    text = MINI.read_text(encoding="utf-8") + f"\njoin_requests: {{approve: {approve}}}\n"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "assets").symlink_to(MINI.parent / "assets")
    return Engine(load_funnel(path))


def decisions(outcome: Outcome) -> list[DecideJoin]:
    return [a for a in outcome.actions if isinstance(a, DecideJoin)]


def first_button(outcome: Outcome) -> Press:
    data = next(b.data for m in outcome.messages for row in m.buttons for b in row if b.data)
    assert data is not None
    return Press(data)


def test_after_interview_waits_for_the_classification(tmp_path: Path) -> None:
    engine, now = engine_for(tmp_path, "after_interview"), utcnow()
    out = engine.handle(LeadState(), JoinRequest("-1001", source="webinar"), now)
    assert decisions(out) == [] and out.state.join_chat == "-1001"
    assert out.state.source == "webinar"
    for event in ("press", "press", Text("An office of 20"), Contact("+79991234567")):
        step = first_button(out) if event == "press" else event
        assert not isinstance(step, str)
        out = engine.handle(out.state, step, now)
        assert decisions(out) == []
    out = engine.handle(out.state, Classified("info", 80, "collecting_info"), now)
    assert decisions(out) == [DecideJoin("-1001", True)]
    assert out.state.join_chat is None
    # A second request after the interview: approved at once (the moment has passed).
    again = engine.handle(out.state, JoinRequest("-1002"), now)
    assert decisions(again) == [DecideJoin("-1002", True)]


def test_at_once_and_decline(tmp_path: Path) -> None:
    now = utcnow()
    at_once = engine_for(tmp_path / "a", "at_once").handle(LeadState(), JoinRequest("-1"), now)
    assert decisions(at_once) == [DecideJoin("-1", True)]
    declined = engine_for(tmp_path / "d", "decline").handle(LeadState(), JoinRequest("-1"), now)
    assert decisions(declined) == [DecideJoin("-1", False)]
    assert declined.messages  # the funnel runs all the same
