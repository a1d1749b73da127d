"""``LeadState.copy``: the engine's working copy shares no list or dict with the stored state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from bot.engine.types import LeadState


def _filled() -> LeadState:
    """A state with every field set, every container non-empty."""
    state = LeadState(
        first_name="Ann",
        answers={"size": "12"},
        flags=["vip"],
        live={"3": "q_need"},
        variants={"offer": "b"},
        orders=["charge-1"],
        broadcast_buttons={"7": ["hot", None]},
        consent_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    for f in dataclasses.fields(LeadState):
        value = getattr(state, f.name)
        assert not isinstance(value, (list, dict)) or value, f"fill {f.name} in this test"
    return state


def test_the_copy_equals_the_state() -> None:
    state = _filled()
    assert state.copy() == state


def test_no_container_is_shared() -> None:
    """A new mutable field missing from ``copy`` fails here, not in a lead's history."""
    state = _filled()
    twin = state.copy()
    for f in dataclasses.fields(LeadState):
        value = getattr(state, f.name)
        if isinstance(value, (list, dict)):
            assert getattr(twin, f.name) is not value, f.name
    for key, gotos in state.broadcast_buttons.items():
        assert twin.broadcast_buttons[key] is not gotos


def test_changing_the_copy_leaves_the_state() -> None:
    state = _filled()
    twin = state.copy()
    twin.answers["size"] = "3"
    twin.broadcast_buttons["7"].append("cold")
    twin.step = "q_about"
    assert state.answers == {"size": "12"}
    assert state.broadcast_buttons == {"7": ["hot", None]}
    assert state.step is None
