"""Shared fixtures: a FakeOpenAI server and LLM qualifiers pointed at it (``mini`` is global)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.qualification.llm import LLMQualifier
from bot.settings import Settings
from fakes.openai_server import FakeOpenAI

MakeQualifier = Callable[..., Awaitable[LLMQualifier]]


def settings(**overrides: Any) -> Settings:
    """Settings from the arguments only: a developer's .env must not leak into tests."""
    values: dict[str, Any] = {"openai_api_key": "test", "openai_model": "gpt-test"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def answer(segment: str = "hot", confidence: int = 90, **fields: Any) -> dict[str, Any]:
    """A well-formed model answer for the mini scenario."""
    body: dict[str, Any] = {
        "summary": "Office of 40 people wants a machine this month.",
        "pains": ["slow coffee", "queues"],
        "bant": {"need": "yes", "budget": "yes", "authority": "unknown", "timeline": "yes"},
        "reason": "Asked for the price and delivery this week.",
        "readiness": "ready_to_buy",
        "confidence": confidence,
        "segment": segment,
    }
    body.update(fields)
    return body


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def make_qualifier(llm: FakeOpenAI) -> AsyncIterator[MakeQualifier]:
    """Build LLM qualifiers the way the app does (``from_settings``), closed after the test."""
    made: list[LLMQualifier] = []

    async def make(**overrides: Any) -> LLMQualifier:
        overrides.setdefault("openai_base_url", llm.base_url)
        qualifier = LLMQualifier.from_settings(settings(**overrides))
        made.append(qualifier)
        return qualifier

    yield make
    for qualifier in made:
        await qualifier.aclose()


@pytest.fixture
async def qualifier(make_qualifier: MakeQualifier) -> LLMQualifier:
    return await make_qualifier()
