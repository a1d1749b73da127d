"""Questions mid-interview over real HTTP: the fake Bot API, the fake OpenAI, the real bot.

A prospect asks three questions while being interviewed, reads the operator's answers, finishes
the interview and is classified; with the model failing, the offline retrieval answers the same
questions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.knowledge.llm import LLMLibrarian
from bot.qualification.llm import LLMQualifier
from bot.vocabulary import EventType
from fakes.bot_api import FakeBotAPI
from fakes.openai_server import Classify, FakeOpenAI, Status
from tests.conftest import DATA
from tests.e2e.harness import Harness, harness_for, polling
from tests.e2e.test_admin import ADMIN, MANAGERS, reach_hot, replies_to, staffed
from tests.e2e.test_admin import USER as PROSPECT
from tests.qualification.conftest import answer, settings

USER = 901
KB = DATA / "kb.yaml"
# What the "model" picks for each question (the offline retrieval finds the same entries).
PICKS = {
    "а сколько стоит кофемашина?": "price",
    "When will you deliver?": "delivery",
    "договор с ИП заключаете?": "contract",
}


def fake_model(body: dict[str, Any]) -> dict[str, Any]:
    """Pick an entry for a knowledge question; place the lead for a qualification."""
    name = body["response_format"]["json_schema"]["name"]
    if name == "KnowledgePick":
        question = json.loads(body["messages"][-1]["content"])
        return {"entry": PICKS.get(question, "none"), "confidence": 93}
    return answer("hot", 90)


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=Classify(fake_model)) as fake:
        yield fake


async def run_interview(h: Harness) -> None:
    await h.say(USER, "/start", expect="What do you need?", first_name="Ann")
    await h.say(USER, "а сколько стоит кофемашина?", expect="Machine X costs 1000 EUR, Ann.")
    await h.expect(USER, "What do you need?", since=len(h.tg.sent(USER)) - 1)
    await h.press(USER, "Buy now")
    await h.press(USER, "Big")
    await h.expect(USER, "Tell us about your office.")
    await h.say(USER, "When will you deliver?", expect="We deliver in 3 working days.")
    await h.say(USER, "договор с ИП заключаете?", expect="Yes, we sign a contract")
    await h.say(USER, "We are an office of 40 people", expect="Leave your phone?")
    await h.share_contact(USER, "Machine X for Ann")
    await h.settle()


async def question_events(h: Harness) -> list[dict[str, Any]]:
    return [e.payload for e in await h.events(USER) if e.type == EventType.QUESTION]


async def test_three_questions_mid_interview_with_the_model(
    tg: FakeBotAPI, tmp_path: Path, llm: FakeOpenAI
) -> None:
    qualifier = LLMQualifier.from_settings(settings(openai_base_url=llm.base_url))
    librarian = LLMLibrarian.from_settings(settings(openai_base_url=llm.base_url))
    try:
        async with harness_for(tg, tmp_path, KB, qualifier) as h, polling(h):
            h.service.librarian = librarian
            await run_interview(h)
            lead = await h.lead(USER)
            assert lead is not None and lead.segment == "hot" and lead.step == "hot-2"
            asked = await question_events(h)
            assert [q["entry"] for q in asked] == ["price", "delivery", "contract"]
            assert {q["path"] for q in asked} == {"llm"}
            assert all(q["tokens"] == 70 and q["confidence"] == 0.93 for q in asked)
            assert asked[0]["length"] == len("а сколько стоит кофемашина?")
            names = [r["response_format"]["json_schema"]["name"] for r in llm.requests]
            assert names.count("KnowledgePick") == 3 and names.count("LeadQualification") == 1
            answers = {a.key: a.answer for a in await _answers(h)}
            assert answers["about"] == "We are an office of 40 people"
    finally:
        await qualifier.aclose()
        await librarian.aclose()


async def test_the_same_questions_offline_when_the_model_fails(
    tg: FakeBotAPI, tmp_path: Path
) -> None:
    async with FakeOpenAI(default=Status(503)) as broken:
        qualifier = LLMQualifier.from_settings(
            settings(openai_base_url=broken.base_url, openai_timeout=2)
        )
        librarian = LLMLibrarian.from_settings(
            settings(openai_base_url=broken.base_url, openai_timeout=2)
        )
        try:
            async with harness_for(tg, tmp_path, KB, qualifier) as h, polling(h):
                h.service.librarian = librarian
                await run_interview(h)
                lead = await h.lead(USER)
                assert lead is not None and lead.segment == "hot"
                asked = await question_events(h)
                assert [q["entry"] for q in asked] == ["price", "delivery", "contract"]
                assert {q["path"] for q in asked} == {"offline_fallback"}
                assert {q["error"] for q in asked} == {"server_error"}
        finally:
            await qualifier.aclose()
            await librarian.aclose()


async def test_a_manager_request_reaches_the_managers_with_the_message(
    tg: FakeBotAPI, tmp_path: Path
) -> None:
    async with harness_for(tg, tmp_path, KB) as h, polling(h):
        await h.say(USER, "/start", expect="What do you need?", first_name="Ann")
        await h.say(USER, "дайте контакт менеджера", expect="passing your message to a manager")
        await h.say(USER, "я жду", expect="A manager will write to you shortly.")
        before = len(tg.sent(USER))
        await h.say(USER, "ну что там?")
        await h.settle()
        assert len(tg.sent(USER)) == before  # told once, not on every message
        lead = await h.lead(USER)
        assert lead is not None and lead.status == "handed_off"
        types = await h.event_types(USER)
        assert types.count("message_received") >= 3 and "human_requested" in types


async def _answers(h: Harness) -> list[Any]:
    from storage.leads import LeadRepo

    lead = await h.lead(USER)
    assert lead is not None
    async with h.db.session() as session:
        return list(await LeadRepo(session).answers(lead.id))


async def test_messages_to_a_taken_lead_reach_the_managers_chat(
    tg: FakeBotAPI, tmp_path: Path
) -> None:

    async with staffed(tg, tmp_path, KB) as h:
        await reach_hot(h)
        await h.say(ADMIN, "/take 1", expect="Lead #1 is yours")
        assert await replies_to(h, PROSPECT, "hello? <anyone>") == []  # a person writes to them
        card = await tg.wait_for_sent(MANAGERS, "New message", timeout=5)
        assert "hello? &lt;anyone&gt;" in (card.text or "") and "lead #1" in (card.text or "")
        await h.say(PROSPECT, "позовите менеджера")  # already with managers: forwarded, no hand-off
        await tg.wait_for_sent(MANAGERS, "позовите менеджера", timeout=5)
