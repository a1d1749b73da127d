"""The one vocabulary and the one codec for the engine's bookkeeping JSON."""

from __future__ import annotations

import json

from bot.engine.steps import STEP_HANDLERS
from bot.engine.types import LeadState, halted_private
from bot.scenario.model import AnyStep
from bot.vocabulary import (
    STAGE_ORDER,
    EventType,
    LeadStatus,
    Stage,
    Waiting,
    broadcast_step,
    invoice_payload,
    offer_of_payload,
)


def test_members_are_the_stored_strings() -> None:
    assert str(EventType.ORDER_PAID) == "order_paid" and json.dumps(EventType.TAKEN) == '"taken"'
    assert LeadStatus("handed_off") is LeadStatus.HANDED_OFF
    assert [s.value for s in STAGE_ORDER] == ["visitor", "cold", "warm", "hot", "customer"]
    assert STAGE_ORDER.index(Stage.WARM) > STAGE_ORDER.index(Stage.COLD)


def test_id_prefixes_round_trip() -> None:
    assert broadcast_step(12) == "@b12"
    assert offer_of_payload(invoice_payload("big_offer")) == "big_offer"
    assert offer_of_payload("someone-else:big_offer") is None


def test_every_step_kind_has_a_handler() -> None:
    from typing import get_args

    assert {cls.kind for cls in get_args(AnyStep)} == set(STEP_HANDLERS)


def test_private_state_codec_round_trips_and_halts() -> None:
    state = LeadState(seq=3, timer=7, draft="half typed", waiting=Waiting.ANSWER)
    state.live["3"] = "q1"
    state.orders.append("ch_1")
    stored = json.loads(json.dumps(state.private()))
    again = LeadState()
    again.load_private(stored)
    assert again.private() == state.private() and again.waiting is Waiting.ANSWER

    taken = halted_private(stored)
    assert (taken["timer"], taken["draft"], taken["waiting"]) == (0, "", "answer")
    assert taken["live"] == {"3": "q1"} and taken["orders"] == ["ch_1"]
    erased = halted_private(stored, forget_waiting=True)
    assert erased["waiting"] is None and erased["timer"] == 0
    assert LeadState().private()["seq"] == 0 and halted_private(None)["live"] == {}
