"""The model picks knowledge-base entries over real HTTP (FakeOpenAI); offline on any failure."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.engine.types import AskKnowledge
from bot.knowledge.llm import LLMLibrarian
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from fakes.openai_server import Delay, FakeOpenAI, Garbage, Refusal, Reply, Status
from tests.conftest import DATA
from tests.qualification.conftest import settings

ASK = AskKnowledge("а сколько стоит кофемашина?", "q_need")


@pytest.fixture(scope="module")
def kb() -> Funnel:
    return load_funnel(DATA / "kb.yaml", "Europe/Moscow")


@pytest.fixture
async def librarian(llm: FakeOpenAI) -> AsyncIterator[LLMLibrarian]:
    made = LLMLibrarian.from_settings(settings(openai_base_url=llm.base_url, openai_timeout=3))
    yield made
    await made.aclose()


async def test_the_model_picks_from_an_enum_of_entry_ids(
    llm: FakeOpenAI, librarian: LLMLibrarian, kb: Funnel
) -> None:
    llm.script(Reply({"entry": "delivery", "confidence": 80}, prompt_tokens=300))
    looked = await librarian.look_up(kb, ASK)
    assert (looked.entry, looked.path, looked.confidence) == ("delivery", "llm", 0.8)
    assert looked.tokens == 320 and looked.length == len(ASK.text) and looked.error is None
    request: dict[str, Any] = llm.last_request
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["entry"]["enum"] == [
        "price",
        "delivery",
        "contract",
        "visit",
        "none",
    ]
    assert len(llm.requests) == 1
    assert '"а сколько стоит кофемашина?"' in request["messages"][-1]["content"]


@pytest.mark.parametrize(
    "content", [{"entry": "none", "confidence": 90}, {"entry": "price", "confidence": 30}]
)
async def test_none_or_an_unsure_pick_is_no_answer(
    llm: FakeOpenAI, librarian: LLMLibrarian, kb: Funnel, content: dict[str, Any]
) -> None:
    llm.script(Reply(content))
    looked = await librarian.look_up(kb, ASK)
    assert looked.entry is None and looked.path == "llm"


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        (Status(500), "server_error"),
        (Refusal(), "refusal"),
        (Garbage(), "invalid_output"),
        (Reply({"entry": "made_up", "confidence": 99}), "invalid_output"),
        (Status(401), "auth"),
    ],
)
async def test_failures_fall_back_to_offline(
    llm: FakeOpenAI, librarian: LLMLibrarian, kb: Funnel, behaviour: Any, kind: str
) -> None:
    llm.script(behaviour)
    looked = await librarian.look_up(kb, ASK)
    assert looked.path == "offline_fallback" and looked.error == kind
    assert looked.entry == "price"  # the offline retrieval answered
    assert len(llm.requests) == 1  # one call, no retry


async def test_a_slow_model_is_cut_at_openai_timeout(
    llm: FakeOpenAI, librarian: LLMLibrarian, kb: Funnel
) -> None:
    llm.script(Delay(8, Reply({"entry": "delivery", "confidence": 80})))
    started = time.monotonic()
    looked = await librarian.look_up(kb, ASK)
    assert time.monotonic() - started < 6
    assert looked.path == "offline_fallback" and looked.error == "timeout"
    assert looked.entry == "price"
