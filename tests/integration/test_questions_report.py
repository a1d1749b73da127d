"""``leadbot report --questions``: questions asked through the real service, read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.engine.types import OutMessage, Start, Text
from bot.qualification import OfflineQualifier
from bot.reports.questions import as_dict, lines, question_report
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from storage.db import Database
from tests.conftest import DATA, Clock


class Chat:
    def __init__(self) -> None:
        self.sent: list[OutMessage] = []

    async def send(self, message: OutMessage) -> None:
        self.sent.append(message)

    async def is_member(self, chat: str) -> bool | None:
        return None

    async def decide_join(self, chat: str, approve: bool) -> bool:
        return False

    async def cancel_subscription(self, charge_id: str) -> bool:
        return False

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        yield


async def test_unanswered_questions_and_used_entries(sqlite_db: Database, clock: Clock) -> None:
    funnel = load_funnel(DATA / "kb.yaml", "Europe/Moscow")
    service = FunnelService(sqlite_db, ScenarioHolder(funnel), OfflineQualifier(), clock)
    for user, asked in [
        (1, ["What is the price?", "Do you accept bitcoin?"]),
        (2, ["do you accept Bitcoin", "когда доставите?"]),
        (3, ["Какая цена?", "Is there a warranty?"]),
    ]:
        chat = Chat()
        key = LeadKey("telegram", user)
        await service.handle(key, Start(first_name="Ann"), chat)
        for text in asked:
            await service.handle(key, Text(text), chat)
        assert chat.sent[-1].text == "What do you need?"  # resumed after every question
    report = await question_report(sqlite_db, funnel)
    data = as_dict(report)
    assert data["asked"] == 6 and data["answered"] == 3
    assert data["entries"][0] == {"entry": "price", "times": 2}
    assert data["unanswered"][0] == {"text": "do you accept bitcoin", "times": 2}
    assert data["unused_entries"] == ["contract", "visit"]
    text = "\n".join(lines(report))
    assert "questions: 6, answered from the knowledge base: 50%" in text
    assert "is there a warranty" in text
